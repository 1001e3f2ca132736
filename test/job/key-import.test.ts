// Keys read from PEM: an Ed25519 key is imported from its raw bytes rather
// than through OpenSSL's decoders (signing.ts importPrivateKey), so each case
// checks the key is the very one OpenSSL reads, and that anything else still
// goes to OpenSSL, its errors included.
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  importPrivateKey,
  importPublicKey,
  newEd25519Key,
  privateKeyFromRaw,
} from '../../src/job/signing.js';

/** Each text is refused by OpenSSL, and by `ours` with OpenSSL's own message. */
function expectRefusedAlike(
  openssl: (text: string) => unknown,
  ours: (text: string) => unknown,
  texts: string[],
): void {
  for (const text of texts) {
    let message = '';
    try {
      openssl(text);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message, JSON.stringify(text)).not.toBe('');
    expect(() => ours(text)).toThrow(message);
  }
}

const der = (k: ReturnType<typeof createPrivateKey>) =>
  k.export({ type: k.type === 'private' ? 'pkcs8' : 'spki', format: 'der' });

describe('importPrivateKey', () => {
  it('reads an Ed25519 PKCS#8 PEM as the key OpenSSL reads, signing alike', () => {
    for (let i = 0; i < 20; i++) {
      const pem = newEd25519Key().export({ type: 'pkcs8', format: 'pem' });
      const ours = importPrivateKey(pem);
      const openssl = createPrivateKey(pem);
      expect(ours.asymmetricKeyType).toBe('ed25519');
      expect(der(ours)).toEqual(der(openssl));
      expect(der(createPublicKey(ours))).toEqual(der(createPublicKey(openssl)));
      const data = Buffer.from(`job ${i}`);
      // Ed25519 signatures are deterministic: the same key makes the same bytes.
      expect(sign(null, data, ours)).toEqual(sign(null, data, openssl));
    }
  });

  it('takes the PEM as a Buffer, with CRLF line ends and surrounding whitespace', () => {
    const key = newEd25519Key();
    const pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
    const crlf = `\n${pem.replaceAll('\n', '\r\n')}\n`;
    expect(der(importPrivateKey(Buffer.from(crlf)))).toEqual(der(key));
    // OpenSSL reads it as well: nothing is taken that it would refuse.
    expect(der(createPrivateKey(crlf))).toEqual(der(key));
  });

  it('leaves every looser form to OpenSSL, which refuses what it refused before', () => {
    const pem = newEd25519Key().export({ type: 'pkcs8', format: 'pem' }) as string;
    const [begin, body, end] = pem.trimEnd().split('\n') as [string, string, string];
    expectRefusedAlike(createPrivateKey, importPrivateKey, [
      `${begin}\n${body.slice(0, 32)}\n\n${body.slice(32)}\n${end}\n`,
      `${begin}\n${body}${end}\n`,
      `${begin}\n${body}==\n${end}\n`,
      `\u00a0${pem}`,
      `\v${pem}`,
    ]);
  });

  it('leaves other keys to OpenSSL: an EC key is read as one', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
    expect(importPrivateKey(pem).asymmetricKeyType).toBe('ec');
  });

  it("refuses what is not a key with OpenSSL's own error", () => {
    const broken = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
    let openssl = '';
    try {
      createPrivateKey(broken);
    } catch (err) {
      openssl = (err as Error).message;
    }
    expect(openssl).not.toBe('');
    expect(() => importPrivateKey(broken)).toThrow(openssl);
    expect(() => importPrivateKey('not a key')).toThrow();
  });
});

describe('importPublicKey', () => {
  it('reads an Ed25519 SPKI PEM as the key OpenSSL reads, verifying alike', () => {
    const key = newEd25519Key();
    const pem = createPublicKey(key).export({ type: 'spki', format: 'pem' });
    const ours = importPublicKey(pem);
    expect(ours.type).toBe('public');
    expect(der(ours)).toEqual(der(createPublicKey(pem)));
    const data = Buffer.from('a job');
    expect(verify(null, data, ours, sign(null, data, key))).toBe(true);
    expect(verify(null, data, ours, sign(null, data, newEd25519Key()))).toBe(false);
  });

  it('leaves other keys to OpenSSL, and a private key is not a public one', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(
      importPublicKey(publicKey.export({ type: 'spki', format: 'pem' })).asymmetricKeyType,
    ).toBe('ec');
    // OpenSSL derives a public key from a private PEM; that path is unchanged.
    const privatePem = newEd25519Key().export({ type: 'pkcs8', format: 'pem' });
    expect(importPublicKey(privatePem).type).toBe('public');
    expect(() =>
      importPublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'),
    ).toThrow();
    const pem = createPublicKey(newEd25519Key()).export({ type: 'spki', format: 'pem' }) as string;
    const [begin, body, end] = pem.trimEnd().split('\n') as [string, string, string];
    expectRefusedAlike(createPublicKey, importPublicKey, [
      `${begin}\n${body}${end}\n`,
      `${begin}\n${body}==\n${end}\n`,
    ]);
  });
});

describe('raw private keys', () => {
  it('an X25519 key from 32 bytes agrees with the one OpenSSL reads from its PKCS#8 form', () => {
    const a = generateKeyPairSync('x25519');
    const d = Buffer.from(a.privateKey.export({ format: 'jwk' }).d as string, 'base64url');
    const ours = privateKeyFromRaw('X25519', d);
    expect(der(ours)).toEqual(der(a.privateKey));
    const b = generateKeyPairSync('x25519');
    expect(diffieHellman({ privateKey: ours, publicKey: b.publicKey })).toEqual(
      diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey }),
    );
  });

  it('an Ed25519 key from its seed is the PKCS#8 key of that seed', () => {
    const seed = Buffer.alloc(32, 7);
    const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
    const openssl = createPrivateKey({
      key: Buffer.concat([prefix, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    expect(der(privateKeyFromRaw('Ed25519', seed))).toEqual(der(openssl));
    // A view into a larger buffer reads only its own bytes.
    const inside = Buffer.concat([Buffer.alloc(5, 1), seed, Buffer.alloc(5, 2)]).subarray(5, 37);
    expect(der(privateKeyFromRaw('Ed25519', inside))).toEqual(der(openssl));
  });
});
