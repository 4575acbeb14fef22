import { z } from 'zod';
import type { Db } from '../../db/database.js';
import { rotateSigningKeys } from '../../oidc/keys.js';
import { recordAudit } from '../../security/audit.js';
import type { SecretBox } from '../../security/secret-box.js';
import { defineOperation, type Operation } from './operation.js';

export const RotationSchema = z.strictObject({
  active: z.string().describe('the kid that signs from the next (rolling) restart on'),
  staged: z.string().describe('the new staged kid, already published'),
  retired: z.array(z.string()),
  note: z.string(),
});

export const ROTATION_NOTE = 'restart Monban processes (one at a time) to sign with the new key';

export function keyOperations(services: { db: Db; box: SecretBox }): Operation[] {
  return [
    defineOperation({
      method: 'post',
      path: '/keys/rotate',
      operationId: 'rotateKeys',
      summary: "What the CLI's keys rotate does: the staged key signs, the active one retires, a new one is staged",
      tag: 'keys',
      scope: 'admin:keys.write',
      responses: { 200: { description: 'the keys after the rotation', schema: RotationSchema } },
      handle: async ({ caller, meta }) => {
        const result = await rotateSigningKeys(services.db, services.box, (trx, rotation) =>
          recordAudit(trx, { type: 'admin.keys.rotated', actor: caller.clientId, details: { ...rotation } }, meta),
        );
        return { status: 200, body: { ...result, note: ROTATION_NOTE } };
      },
    }),
  ];
}
