import type { ClientServices } from '../clients.js';
import type { UserServices } from '../users.js';
import { auditOperations } from './audit.js';
import { clientOperations } from './clients.js';
import { companyOperations } from './companies.js';
import { keyOperations } from './keys.js';
import { resourceServerOperations } from './resource-servers.js';
import { supportCaseOperations } from './support-cases.js';
import type { Operation } from './operation.js';
import { userOperations } from './users.js';

/** Every operation of the admin API: what the server routes, and what the CLI runs on the database. */
export function adminOperations(
  services: ClientServices & UserServices & Parameters<typeof companyOperations>[0],
): Operation[] {
  return [
    ...clientOperations(services),
    ...resourceServerOperations(services),
    ...userOperations(services),
    ...auditOperations(services),
    ...keyOperations(services),
    ...companyOperations(services),
    ...supportCaseOperations(services),
  ];
}
