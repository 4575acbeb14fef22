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
  /** When the password was last changed (change or reset); null while it is the one chosen at sign-up. */
  password_changed_at: Timestamp | null;
  /** Set when the account reached the limit of consecutive wrong passwords; no password is checked until unlocked. */
  locked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** SHA-256 of the unlock link's token mailed to the owner when the account was locked. */
  unlock_token_hash: ColumnType<string | null, string | null | undefined, string | null>;
  /** The user answered "never" to the offer of a passkey after a password login. */
  passkey_prompt_never: ColumnType<boolean, boolean | undefined, boolean>;
  /** "Not now": the offer of a passkey waits until then. */
  passkey_prompt_snoozed_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Company policy: a login must end with a passkey or security key (phishing-resistant). */
  require_phishing_resistant: ColumnType<boolean, boolean | undefined, boolean>;
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

/** An API registered as a resource server (RFC 8707); src/oidc/resource-servers.ts. */
export interface ResourceServersTable {
  /** The resource indicator (an absolute URI): the `aud` of its tokens. */
  identifier: string;
  name: string;
  scopes: ColumnType<string[], string, string>;
  access_token_format: 'jwt' | 'opaque';
  access_token_seconds: number;
  /** The resource server's own client: it may introspect the tokens issued for it. */
  client_id: string;
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
  /** Who did it: an admin client's client_id, 'cli', or null (the account's owner or nobody). */
  actor: ColumnType<string | null, string | null | undefined, never>;
  /** The company the event belongs to (its admins see it on the company's audit page). */
  company_id: ColumnType<string | null, string | null | undefined, never>;
  /** The inserting transaction (xid8, as a string); set by its default. */
  tx: ColumnType<string, never, never>;
  /** The event's position in the log, given once no earlier transaction can still commit (security/audit-log.ts). */
  seq: ColumnType<string | null, never, string | number>;
}

export interface AdminIdempotencyTable {
  client_id: string;
  key: string;
  /** SHA-256 of method, path and body: the same key with another request is refused. */
  request_hash: string;
  /** Null while the first request runs. */
  status: number | null;
  body: ColumnType<unknown, string | null | undefined, string | null>;
  created_at: CreatedAt;
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
  channel: 'email' | 'sms' | 'logout';
  template: string;
  locale: 'ja' | 'en';
  recipient: string;
  payload_sealed: string | null;
  status: ColumnType<'pending' | 'sent' | 'failed', 'pending' | undefined, 'pending' | 'sent' | 'failed'>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  locked_until: Date | null;
  last_error: string | null;
  /** A back-channel logout notice's {sub, sid} (channel 'logout'); queued by the database itself. */
  data: ColumnType<Record<string, unknown> | null, string | undefined, string | null>;
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
  /** The sid the session gave each relying party, {client_id: sid}: whom to tell when it ends. */
  logout_sids: ColumnType<Record<string, string>, string | undefined, string>;
  /** Set when the session was ended (src/identity/accounts/access.ts); it is unusable from then on. */
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface AccountGrantsTable {
  grant_id: string;
  account_id: string;
  client_id: string;
  created_at: CreatedAt;
  expires_at: Date | null;
  /** Set when the grant was revoked; its tokens are unusable from then on. */
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** What the user allowed (the grant's OIDC scope and claims, and resource scopes), for the next login. */
  consented: ColumnType<ConsentedAccess | null, string | null | undefined, string | null>;
}

export interface ConsentedAccess {
  scope?: string;
  claims?: string[];
  resources?: Record<string, string>;
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

export interface WebauthnCredentialsTable {
  id: Generated<string>;
  account_id: string;
  /** base64url of the credential's raw ID. */
  credential_id: string;
  /** The COSE public key. */
  public_key: Uint8Array;
  /** bigint: pg returns it as a string. */
  counter: ColumnType<string, number | undefined, number>;
  transports: ColumnType<string[], string | undefined, string>;
  aaguid: string;
  name: string;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  last_used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export type CompanyRole = 'member' | 'admin';
export type JoinPolicy = 'invitation' | 'auto';

export interface CompaniesTable {
  id: Generated<string>;
  name_ja: string;
  name_latin: string;
  /** 法人番号: 13 digits, check digit validated. */
  corporate_number: string | null;
  /** Members without a second factor set one up at their next login. */
  require_mfa: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface CompanyDomainsTable {
  company_id: string;
  /** Lowercase ASCII, no trailing dot. */
  domain: string;
  /** The TXT record `monban-verification=<token>` proves the domain. */
  verification_token: string;
  verified_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  checked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  join_policy: ColumnType<JoinPolicy, JoinPolicy | undefined, JoinPolicy>;
  created_at: CreatedAt;
}

export interface CompanyMembershipsTable {
  company_id: string;
  account_id: string;
  role: CompanyRole;
  created_at: CreatedAt;
}

export interface CompanyInvitationsTable {
  id: Generated<string>;
  company_id: string;
  /** Normalised address the invitation is for. */
  email: string;
  /** Hex SHA-256 of the link's token; the token itself is never stored. */
  token_hash: string;
  locale: 'ja' | 'en';
  /** A company admin's account id, an admin client's client_id, or 'cli'. */
  invited_by: string;
  expires_at: Date;
  sent_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  accepted_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The account that accepted it. */
  account_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
}

export type SupportCaseStatus = 'open' | 'approved' | 'rejected';

/** M2: a partner's request for a new email address, resolved by an operator. */
export interface SupportCasesTable {
  id: Generated<string>;
  account_id: string;
  kind: 'email_change';
  current_email: string;
  requested_email: string;
  reason: string;
  status: ColumnType<SupportCaseStatus, SupportCaseStatus | undefined, SupportCaseStatus>;
  /** The operator's message to the user when rejecting. */
  response: ColumnType<string | null, string | null | undefined, string | null>;
  /** An admin client's client_id or 'cli'. */
  resolved_by: ColumnType<string | null, string | null | undefined, string | null>;
  resolved_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: CreatedAt;
}

/** A company admin's pending change of a member's address (M3, M4); see identity/companies/email-change.ts. */
export interface EmailChangesTable {
  account_id: string;
  /** The company whose admin (or bulk rename) asked for it; null for an operator's approval of a partner's case (M2). */
  company_id: string | null;
  old_email: string;
  /** Normalised new address; the code mailed to it confirms the change. */
  new_email: string;
  /** HMAC of the code (security/codes.ts), bound to the account and the new address. */
  code_hmac: string;
  code_expires_at: Date;
  code_attempts: ColumnType<number, number | undefined, number>;
  /** A company admin's account id, an admin client's client_id, or 'cli'. */
  requested_by: string;
  sent_at: Timestamp;
  created_at: CreatedAt;
}

/** A company's bulk rename: every member at from_domain moves to to_domain (M3, M4). */
export interface CompanyRenamesTable {
  id: Generated<string>;
  company_id: string;
  from_domain: string;
  to_domain: string;
  /** A company admin's account id, an admin client's client_id, or 'cli'. */
  requested_by: string;
  total: number;
  done: ColumnType<number, number | undefined, number>;
  skipped: ColumnType<number, number | undefined, number>;
  finished_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: CreatedAt;
}

export type RenameItemState = 'pending' | 'done' | 'skipped';

export interface CompanyRenameItemsTable {
  rename_id: string;
  account_id: string;
  new_email: string;
  state: ColumnType<RenameItemState, RenameItemState | undefined, RenameItemState>;
  /** Why an item was skipped: an error code (the address is taken, the member left, ...). */
  reason: ColumnType<string | null, string | null | undefined, string | null>;
  finished_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface DerivedKeysTable {
  /** The id of the MONBAN_SECRET entry it was derived from, or 'pinned' (never rotates). */
  secret_id: string;
  purpose: string;
  material_sealed: string;
  created_at: CreatedAt;
}

export interface Database {
  accounts: AccountsTable;
  oidc_clients: OidcClientsTable;
  oidc_models: OidcModelsTable;
  server_keys: ServerKeysTable;
  audit_events: AuditEventsTable;
  admin_idempotency: AdminIdempotencyTable;
  rate_limits: RateLimitsTable;
  password_history: PasswordHistoryTable;
  flows: FlowsTable;
  outbox: OutboxTable;
  account_sessions: AccountSessionsTable;
  resource_servers: ResourceServersTable;
  account_grants: AccountGrantsTable;
  mfa_factors: MfaFactorsTable;
  recovery_codes: RecoveryCodesTable;
  remembered_browsers: RememberedBrowsersTable;
  webauthn_credentials: WebauthnCredentialsTable;
  companies: CompaniesTable;
  company_domains: CompanyDomainsTable;
  company_memberships: CompanyMembershipsTable;
  company_invitations: CompanyInvitationsTable;
  email_changes: EmailChangesTable;
  derived_keys: DerivedKeysTable;
  support_cases: SupportCasesTable;
  company_renames: CompanyRenamesTable;
  company_rename_items: CompanyRenameItemsTable;
}

export type CompanyRow = Selectable<CompaniesTable>;
export type CompanyDomainRow = Selectable<CompanyDomainsTable>;
export type CompanyInvitationRow = Selectable<CompanyInvitationsTable>;
export type SupportCaseRow = Selectable<SupportCasesTable>;
export type EmailChangeRow = Selectable<EmailChangesTable>;
export type CompanyRenameRow = Selectable<CompanyRenamesTable>;

export type WebauthnCredentialRow = Selectable<WebauthnCredentialsTable>;

export type MfaFactorRow = Selectable<MfaFactorsTable>;

export type AccountRow = Selectable<AccountsTable>;
export type NewAccount = Insertable<AccountsTable>;
export type AccountUpdate = Updateable<AccountsTable>;
export type ClientRow = Selectable<OidcClientsTable>;
export type FlowRow = Selectable<FlowsTable>;
export type OutboxRow = Selectable<OutboxTable>;
