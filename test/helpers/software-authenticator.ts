import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A WebAuthn authenticator in software (ES256, "none" attestation), producing the same bytes a
 * browser and a real authenticator would (WebAuthn L3 6.1, 6.5), so tests verify real responses.
 */
interface StoredCredential {
  id: string;
  privateKey: KeyObject;
  counter: number;
  userHandle: string;
  rpId: string;
}

export interface Ceremony {
  /** Another origin than the authenticator's (a phishing site). */
  origin?: string;
  /** Sign for another rpID than the options name. */
  rpId?: string;
  /** Answer without user verification (the UV flag clear). */
  userVerified?: boolean;
  /** Sign with this counter instead of the next one. */
  counter?: number;
  /** Another challenge than the options'. */
  challenge?: string;
}

const b64url = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

export class SoftwareAuthenticator {
  readonly credentials: StoredCredential[] = [];

  constructor(
    readonly origin: string,
    /** AAGUID bytes; all zeros unless given. */
    private readonly aaguid = Buffer.alloc(16),
    /** Backup eligible and backed up: a synced passkey (BE, BS flags). */
    private readonly synced = false,
  ) {}

  #flags(userVerified: boolean, attested: boolean): number {
    return 0x01 | (userVerified ? 0x04 : 0) | (this.synced ? 0x18 : 0) | (attested ? 0x40 : 0);
  }

  #clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** navigator.credentials.create() */
  create(options: PublicKeyCredentialCreationOptionsJSON, ceremony: Ceremony = {}): RegistrationResponseJSON {
    const rpId = ceremony.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x ?? '', 'base64url')],
        [-3, Buffer.from(jwk.y ?? '', 'base64url')],
      ]),
    );
    const credentialId = randomBytes(32);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(credentialId.length);
    const counter = Buffer.alloc(4);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([this.#flags(ceremony.userVerified ?? true, true)]),
      counter,
      this.aaguid,
      length,
      credentialId,
      cose,
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', authData],
      ]),
    );
    const id = b64url(credentialId);
    this.credentials.push({ id, privateKey, counter: 0, userHandle: options.user.id, rpId });
    const clientData = this.#clientData(
      'webauthn.create',
      ceremony.challenge ?? options.challenge,
      ceremony.origin ?? this.origin,
    );
    return {
      id,
      rawId: id,
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientData),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
    };
  }

  /** navigator.credentials.get(): the given credential, or the first allowed (or held) one. */
  get(
    options: PublicKeyCredentialRequestOptionsJSON,
    ceremony: Ceremony & { credentialId?: string } = {},
  ): AuthenticationResponseJSON {
    const allowed = options.allowCredentials?.map((c) => c.id);
    const credential = this.credentials.find((c) =>
      ceremony.credentialId ? c.id === ceremony.credentialId : !allowed?.length || allowed.includes(c.id),
    );
    if (!credential) throw new Error('no credential for these options');
    const rpId = ceremony.rpId ?? options.rpId ?? credential.rpId;
    credential.counter = ceremony.counter ?? credential.counter + 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(credential.counter);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([this.#flags(ceremony.userVerified ?? true, false)]),
      counter,
    ]);
    const clientData = this.#clientData(
      'webauthn.get',
      ceremony.challenge ?? options.challenge,
      ceremony.origin ?? this.origin,
    );
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), credential.privateKey);
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
    };
  }
}
