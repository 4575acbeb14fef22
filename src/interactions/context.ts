import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Db } from '../db/database.js';
import type { PageDeps } from '../http/page.js';
import type { DuoGateway } from '../identity/factors/duo.js';
import type { MfaDeps } from '../identity/factors/mfa.js';
import type { PasswordHasher } from '../identity/password/hashing.js';
import type { Logger } from '../logger.js';
import type { LoginThrottle } from '../security/rate-limit/login-throttle.js';
import type { SecondFactorThrottle } from '../security/rate-limit/second-factor-throttle.js';

export interface InteractionDeps extends PageDeps, MfaDeps {
  provider: Provider;
  db: Db;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  secondFactorThrottle: SecondFactorThrottle;
  duo: DuoGateway;
  logger: Logger;
}

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

export function formField(ctx: Context, name: string): string {
  const value = (ctx.request as { body?: Record<string, unknown> }).body?.[name];
  return typeof value === 'string' ? value : '';
}

export async function clientName(deps: InteractionDeps, clientId: unknown): Promise<string | undefined> {
  const client = typeof clientId === 'string' ? await deps.provider.Client.find(clientId) : undefined;
  return client?.clientName ?? client?.clientId;
}
