// SHA-512 crypt (`$6$<salt>$<hash>`, the glibc algorithm /etc/shadow uses),
// so that a password is hashed by the API before its job is made: the job's
// data, the jobs stream and every record after carry the hash, never the
// password. The declarations (operations.ts) hash in their `toData`, and the
// web console bundles the declarations: Node's crypto is therefore reached
// through process.getBuiltinModule when a hash is made, never imported, so
// this module loads in a browser too (where nothing calls it).

/** Characters of a crypt salt and of its encoded hash, in the order of their values. */
const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Salt characters a hash made here has (glibc reads at most 16). */
export const SALT_LENGTH = 16;
/** glibc's default when a hash names no `rounds=`. */
const DEFAULT_ROUNDS = 5000;
/**
 * The longest password hashed, in UTF-8 bytes: the longest a host's crypt(3)
 * takes (libxcrypt's CRYPT_MAX_PASSPHRASE_SIZE is 512 with the NUL; for a
 * longer one it fails, so that password could never be checked at login).
 * It bounds this hash's work too, which grows with the square of the
 * length: a 64 KB password would take seconds of the API's only thread, so
 * a longer one is refused here whatever path asked.
 */
export const HASHED_PASSWORD_MAX_BYTES = 511;

/** A password longer than HASHED_PASSWORD_MAX_BYTES: refused before any work. */
export class PasswordTooLongError extends Error {
  override name = 'PasswordTooLongError';
  constructor(bytes: number) {
    super(
      `the password is ${bytes} bytes long; at most ${HASHED_PASSWORD_MAX_BYTES} bytes are hashed`,
    );
  }
}

/** What a hash made by hashPassword looks like: no `rounds=`, a 16-character salt. */
export const PASSWORD_HASH_PATTERN = '^\\$6\\$[./0-9A-Za-z]{16}\\$[./0-9A-Za-z]{86}$';

/** What is used of Node's crypto, said here: the contract's types name no Node module. */
interface Hash {
  update(data: Uint8Array): Hash;
  digest(): Uint8Array;
}
interface NodeCrypto {
  createHash(algorithm: 'sha512'): Hash;
  randomBytes(size: number): Uint8Array;
}

function nodeCrypto(): NodeCrypto {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  if (!mod) throw new Error('hashing a password needs Node.js 20.16 or later');
  return mod;
}

/** `length` bytes of `block` repeated: the P and S sequences of the algorithm. */
function repeated(block: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += block.length) {
    out.set(block.subarray(0, length - at), at);
  }
  return out;
}

/** The 64-byte digest's bytes in the order the encoding takes them, three at a time. */
const ENCODING_ORDER: ReadonlyArray<readonly [number, number, number]> = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
];

/** Six bits at a time, least significant first, `chars` characters. */
function encode24(b2: number, b1: number, b0: number, chars: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += CRYPT_ALPHABET[w & 0x3f];
    w >>>= 6;
  }
  return out;
}

function encodeDigest(d: Uint8Array): string {
  let out = '';
  for (const [a, b, c] of ENCODING_ORDER) out += encode24(d[a] ?? 0, d[b] ?? 0, d[c] ?? 0, 4);
  return out + encode24(0, 0, d[63] ?? 0, 2);
}

/**
 * `$6$<salt>$<hash>` of `password` (its UTF-8 bytes), as glibc's crypt(3)
 * makes it; with `rounds` other than the default, `$6$rounds=N$<salt>$…`.
 * `salt` is cut to 16 characters, as glibc does. Throws PasswordTooLongError
 * for a password over HASHED_PASSWORD_MAX_BYTES.
 */
export function sha512Crypt(password: string, salt: string, rounds = DEFAULT_ROUNDS): string {
  const { createHash } = nodeCrypto();
  const utf8 = new TextEncoder();
  const key = utf8.encode(password);
  if (key.length > HASHED_PASSWORD_MAX_BYTES) throw new PasswordTooLongError(key.length);
  const saltText = salt.slice(0, SALT_LENGTH);
  const s = utf8.encode(saltText);

  const b = createHash('sha512').update(key).update(s).update(key).digest();
  const a = createHash('sha512').update(key).update(s);
  let n = key.length;
  for (; n > 64; n -= 64) a.update(b);
  a.update(b.subarray(0, n));
  for (let len = key.length; len > 0; len >>>= 1) a.update(len & 1 ? b : key);
  const digestA = a.digest();

  const dp = createHash('sha512');
  for (let i = 0; i < key.length; i++) dp.update(key);
  const p = repeated(dp.digest(), key.length);

  const ds = createHash('sha512');
  for (let i = 0; i < 16 + (digestA[0] ?? 0); i++) ds.update(s);
  const sSeq = repeated(ds.digest(), s.length);

  let c = digestA;
  for (let i = 0; i < rounds; i++) {
    const h = createHash('sha512');
    h.update(i & 1 ? p : c);
    if (i % 3 !== 0) h.update(sSeq);
    if (i % 7 !== 0) h.update(p);
    h.update(i & 1 ? c : p);
    c = h.digest();
  }
  const prefix = rounds === DEFAULT_ROUNDS ? '$6$' : `$6$rounds=${rounds}$`;
  return `${prefix}${saltText}$${encodeDigest(c)}`;
}

/** A salt of 16 random crypt characters (each byte's low six bits: every character equally likely). */
export function newSalt(): string {
  const bytes = nodeCrypto().randomBytes(SALT_LENGTH);
  let out = '';
  for (const byte of bytes) out += CRYPT_ALPHABET[byte & 0x3f];
  return out;
}

/** The hash of `password` with a new salt, as /etc/shadow takes it. */
export function hashPassword(password: string): string {
  return sha512Crypt(password, newSalt());
}
