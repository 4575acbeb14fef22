import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { COMPANY_EVENT_TEXT_KEYS, COMPANY_EVENT_VARIANTS, eventText } from '../../src/flows/company/service.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { messageText } from '../helpers/fixtures.js';

/** Every audit event type (the AuditType union of src/security/audit.ts). */
function auditTypes(): Set<string> {
  const source = readFileSync(path.join(PROJECT_ROOT, 'src', 'security', 'audit.ts'), 'utf8');
  const union = source.match(/export type AuditType =([\s\S]*?);/)?.[1] ?? '';
  return new Set([...union.matchAll(/'([^']+)'/g)].map((m) => m[1]!));
}

/** The argument text of every call of `name(` in a source file (balanced parentheses). */
function callArguments(source: string, name: string): string[] {
  const calls: string[] = [];
  for (let start = source.indexOf(`${name}(`); start !== -1; start = source.indexOf(`${name}(`, start + 1)) {
    let depth = 0;
    let end = start + name.length;
    for (; end < source.length; end++) {
      if (source[end] === '(') depth++;
      else if (source[end] === ')' && --depth === 0) break;
    }
    calls.push(source.slice(start + name.length + 1, end));
  }
  return calls;
}

/** The event types written with a company id anywhere in src/ (recordAudit and auditRow calls). */
function typesRecordedWithACompany(known: Set<string>): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts')) {
        const source = readFileSync(file, 'utf8');
        for (const args of [...callArguments(source, 'recordAudit'), ...callArguments(source, 'auditRow')]) {
          if (!/\bcompanyId\b/.test(args)) continue;
          for (const [, type] of args.matchAll(/'([a-z_.]+)'/g)) if (known.has(type!)) found.add(type!);
        }
      }
    }
  };
  walk(path.join(PROJECT_ROOT, 'src'));
  return found;
}

describe("the company audit page's sentences (issue 15)", () => {
  it('knows every event type recorded with a company id', () => {
    const known = auditTypes();
    const listed = new Set(Object.keys(COMPANY_EVENT_VARIANTS));
    const recorded = typesRecordedWithACompany(known);
    // The scan finds the company events written by the service modules (a broken scan finds none).
    expect(recorded.has('company.role_changed')).toBe(true);
    expect(recorded.has('admin.user.mfa_removed')).toBe(true);
    const companyTypes = [...known].filter((type) => type.startsWith('company.'));
    expect([...recorded, ...companyTypes].filter((type) => !listed.has(type))).toEqual([]);
    expect([...listed].filter((type) => !known.has(type))).toEqual([]);
  });

  it('has a Japanese and an English sentence for every event type and variant, naming the same values', () => {
    expect(COMPANY_EVENT_TEXT_KEYS.length).toBeGreaterThanOrEqual(Object.keys(COMPANY_EVENT_VARIANTS).length);
    for (const key of COMPANY_EVENT_TEXT_KEYS) {
      const [ja, en] = [messageText('ja', key), messageText('en', key)];
      expect([key, ja.trim().length > 0, en.trim().length > 0, ja !== en]).toEqual([key, true, true, true]);
      const named = (text: string) => [...text.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
      expect([key, named(ja)]).toEqual([key, named(en)]);
    }
  });

  it('picks the sentence that fits the details, and none for a type it does not know', () => {
    expect(eventText('company.role_changed', { from: 'member', to: 'admin' })?.key).toBe(
      'company.events.company_role_changed_admin',
    );
    expect(eventText('company.updated', { fields: ['require_mfa'], require_mfa: false })?.key).toBe(
      'company.events.company_updated_mfa_off',
    );
    expect(eventText('company.updated', { fields: ['name_ja'] })?.key).toBe('company.events.company_updated');
    expect(eventText('company.domain_added', { domain: 'kaisha.co.jp' })).toEqual({
      key: 'company.events.company_domain_added',
      domain: 'kaisha.co.jp',
    });
    expect(eventText('login.succeeded', {})).toBeUndefined();
  });
});
