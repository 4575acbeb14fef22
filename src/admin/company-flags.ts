import { AdminInputError } from './clients.js';

/** The flags of `company create`, the same on the database and through the API. */
export const companyCreateFlags = {
  'name-ja': { type: 'string' },
  'name-latin': { type: 'string' },
  'corporate-number': { type: 'string' },
  domain: { type: 'string', multiple: true },
  admin: { type: 'string', multiple: true },
} as const;

export const memberFlags = { email: { type: 'string' }, role: { type: 'string' } } as const;

export function roleOf(role: string | undefined): 'member' | 'admin' {
  if (role === undefined || role === 'member') return 'member';
  if (role === 'admin') return 'admin';
  throw new AdminInputError('--role must be member or admin');
}
