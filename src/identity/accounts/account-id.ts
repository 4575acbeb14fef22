import { randomCrockford } from '../../security/crockford.js';

/** A human account ID such as "MB7K3Q9X2D": what a user can quote to support or to forgot-email. */
export function newAccountId(): string {
  return `MB${randomCrockford(8)}`;
}
