import { Resolver } from 'node:dns/promises';
import type { Db } from '../../db/database.js';
import { AppError } from '../../errors.js';
import { recordAudit } from '../../security/audit.js';
import { verificationRecord } from './domains.js';
import { companyDomain, domainView, type CompanyActor, type DomainView } from './service.js';

/** Answers that mean "the domain has no such record"; anything else is the resolver failing. */
const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

export interface DomainVerifierOptions {
  /** host or host:port; empty: the system's resolvers. */
  servers: readonly string[];
  timeoutMs: number;
}

/** TXT lookups through Node's resolver (c-ares), against the configured servers. */
export class DomainVerifier {
  readonly #resolver: Resolver;

  constructor(options: DomainVerifierOptions) {
    this.#resolver = new Resolver({ timeout: options.timeoutMs, tries: 2 });
    if (options.servers.length) this.#resolver.setServers([...options.servers]);
  }

  /** Whether the domain publishes `monban-verification=<token>`; throws DNS_UNAVAILABLE when DNS does not answer. */
  async hasRecord(domain: string, token: string): Promise<boolean> {
    let records: string[][];
    try {
      records = await this.#resolver.resolveTxt(domain);
    } catch (err) {
      if (NO_RECORD.has((err as { code?: string }).code ?? '')) return false;
      throw new AppError('DNS_UNAVAILABLE', {}, { cause: err });
    }
    // RFC 7208 3.3 style: a TXT record's strings are one value, joined without spaces.
    const wanted = verificationRecord(token);
    return records.some((chunks) => chunks.join('').trim() === wanted);
  }
}

/**
 * Looks the domain's TXT record up now: found, the domain is verified (and counts); not found,
 * it is not (a domain verified before whose record is gone stops counting). Refused with
 * DOMAIN_TAKEN when another company verified the domain first. Audited either way.
 */
export async function verifyDomain(
  db: Db,
  verifier: DomainVerifier,
  companyId: string,
  input: string,
  by: CompanyActor,
): Promise<DomainView> {
  const row = await companyDomain(db, companyId, input);
  const found = await verifier.hasRecord(row.domain, row.verification_token);
  const updated = await db.transaction().execute(async (trx) => {
    if (found) {
      const other = await trx
        .selectFrom('company_domains')
        .select('company_id')
        .where('domain', '=', row.domain)
        .where('company_id', '!=', companyId)
        .where('verified_at', 'is not', null)
        .executeTakeFirst();
      if (other) throw new AppError('DOMAIN_TAKEN');
    }
    const now = new Date();
    const after = await trx
      .updateTable('company_domains')
      .set({ checked_at: now, verified_at: found ? (row.verified_at ?? now) : null })
      .where('company_id', '=', companyId)
      .where('domain', '=', row.domain)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (found !== (row.verified_at !== null) || !found)
      await recordAudit(
        trx,
        {
          type: found ? 'company.domain_verified' : 'company.domain_verification_failed',
          companyId,
          actor: by.actor,
          details: { domain: row.domain, ...(row.verified_at && !found ? { was_verified: true } : {}) },
        },
        by.meta,
      );
    return after;
  });
  return domainView(updated);
}

/**
 * Looks again at verified domains not checked for `hours`: a domain whose record is gone is no
 * longer verified. A DNS outage changes nothing (the next round tries again).
 */
export async function recheckDomains(db: Db, verifier: DomainVerifier, hours: number, batch = 50): Promise<number> {
  const due = await db
    .selectFrom('company_domains')
    .select(['company_id', 'domain'])
    .where('verified_at', 'is not', null)
    .where((eb) =>
      eb.or([eb('checked_at', 'is', null), eb('checked_at', '<', new Date(Date.now() - hours * 3600_000))]),
    )
    .limit(batch)
    .execute();
  let unverified = 0;
  for (const { company_id, domain } of due) {
    try {
      const view = await verifyDomain(db, verifier, company_id, domain, { actor: 'system' });
      if (!view.verified) unverified++;
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'DNS_UNAVAILABLE')) throw err;
    }
  }
  return unverified;
}
