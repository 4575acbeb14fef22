import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

export type AccountStatus = 'pending' | 'active' | 'on_hold' | 'disabled';

export interface AccountsTable {
  id: Generated<string>;
  /** Human account ID shown to the user and accepted by forgot-email (E1). */
  username: string;
  email: string;
  email_verified: ColumnType<boolean, boolean | undefined, boolean>;
  password_hash: string | null;
  given_name: string;
  family_name: string;
  country: string | null;
  locale: 'ja' | 'en';
  zoneinfo: string | null;
  phone_number: string | null;
  phone_number_verified: ColumnType<boolean, boolean | undefined, boolean>;
  status: ColumnType<AccountStatus, AccountStatus | undefined, AccountStatus>;
  /** Partners must use a business address (C2). */
  partner: ColumnType<boolean, boolean | undefined, boolean>;
  company_name: ColumnType<string | null, string | null | undefined, string | null>;
  job_title: ColumnType<string | null, string | null | undefined, string | null>;
  address: ColumnType<string | null, string | null | undefined, string | null>;
  business_phone: ColumnType<string | null, string | null | undefined, string | null>;
  company_managed: ColumnType<boolean, boolean | undefined, boolean>;
  product_news: ColumnType<boolean, boolean | undefined, boolean>;
  password_changed_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface OidcClientsTable {
  client_id: string;
  client_name: string;
  /** AES-256-GCM sealed client secret; null for public clients. */
  client_secret_sealed: string | null;
  /** Registered metadata other than the secret (redirect_uris, grant_types, ...). */
  metadata: ColumnType<Record<string, unknown>, string, string>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface OidcModelsTable {
  model: string;
  id: string;
  payload: ColumnType<Record<string, unknown>, string, string>;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
}

export type KeyUse = 'signing' | 'cookie';
export type KeyState = 'active' | 'staged' | 'retired';

export interface ServerKeysTable {
  kid: string;
  use: KeyUse;
  state: KeyState;
  /** Sealed private JWK (signing) or random key bytes (cookie). */
  material_sealed: string;
  created_at: CreatedAt;
  retired_at: Date | null;
}

export interface AuditEventsTable {
  id: Generated<string>;
  at: CreatedAt;
  type: string;
  account_id: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
}

export interface RateLimitsTable {
  key: string;
  points: number;
  /** Epoch milliseconds; pg returns bigint as a string. */
  expire: ColumnType<string | null, number | null, number | null>;
}

export interface PasswordHistoryTable {
  id: Generated<string>;
  account_id: string;
  password_hash: string;
  created_at: CreatedAt;
}

export type FlowKind = 'registration' | 'recovery' | 'forgot_email' | 'phone_verification';

export interface FlowsTable {
  id: string;
  kind: FlowKind;
  state: string;
  account_id: string | null;
  email: string | null;
  code_hmac: string | null;
  code_expires_at: Date | null;
  code_attempts: ColumnType<number, number | undefined, number>;
  context: ColumnType<Record<string, unknown>, string | undefined, string>;
  expires_at: Date;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface OutboxTable {
  id: Generated<string>;
  channel: 'email' | 'sms';
  template: string;
  locale: 'ja' | 'en';
  recipient: string;
  payload_sealed: string | null;
  status: ColumnType<'pending' | 'sent' | 'failed', 'pending' | undefined, 'pending' | 'sent' | 'failed'>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  locked_until: Date | null;
  last_error: string | null;
  created_at: CreatedAt;
  sent_at: Date | null;
}

export interface AccountSessionsTable {
  session_id: string;
  account_id: string;
  user_agent: string | null;
  ip: string | null;
  created_at: CreatedAt;
  last_seen_at: Timestamp;
  expires_at: Date | null;
}

export interface AccountGrantsTable {
  grant_id: string;
  account_id: string;
  client_id: string;
  created_at: CreatedAt;
  expires_at: Date | null;
}

export interface MfaFactorsTable {
  id: Generated<string>;
  account_id: string;
  kind: 'totp' | 'duo';
  state: 'pending' | 'active';
  secret_sealed: string | null;
  /** bigint: pg returns it as a string. */
  last_used_step: ColumnType<string | null, number | null | undefined, number | null>;
  created_at: CreatedAt;
  confirmed_at: Date | null;
}

export interface RecoveryCodesTable {
  id: Generated<string>;
  account_id: string;
  code_hmac: string;
  created_at: CreatedAt;
  used_at: Date | null;
}

export interface RememberedBrowsersTable {
  id: Generated<string>;
  account_id: string;
  token_hash: string;
  user_agent: string | null;
  ip: string | null;
  created_at: CreatedAt;
  expires_at: Date;
}

export interface Database {
  accounts: AccountsTable;
  oidc_clients: OidcClientsTable;
  oidc_models: OidcModelsTable;
  server_keys: ServerKeysTable;
  audit_events: AuditEventsTable;
  rate_limits: RateLimitsTable;
  password_history: PasswordHistoryTable;
  flows: FlowsTable;
  outbox: OutboxTable;
  account_sessions: AccountSessionsTable;
  account_grants: AccountGrantsTable;
  mfa_factors: MfaFactorsTable;
  recovery_codes: RecoveryCodesTable;
  remembered_browsers: RememberedBrowsersTable;
}

export type MfaFactorRow = Selectable<MfaFactorsTable>;

export type AccountRow = Selectable<AccountsTable>;
export type NewAccount = Insertable<AccountsTable>;
export type AccountUpdate = Updateable<AccountsTable>;
export type ClientRow = Selectable<OidcClientsTable>;
export type FlowRow = Selectable<FlowsTable>;
export type OutboxRow = Selectable<OutboxTable>;
