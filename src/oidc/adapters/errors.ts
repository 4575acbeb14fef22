import { errors } from 'oidc-provider';

/**
 * Thrown by `consume` when another request consumed the same code or refresh token first.
 * oidc-provider turns it into a plain `invalid_grant` answer for the loser of the race.
 */
export function alreadyConsumed(model: string): Error {
  return new errors.InvalidGrant(`${model} already consumed`);
}
