// SSH public keys as authorized_keys holds them: the line's parts (options,
// type, base64 blob, comment), the blob checked to name its own type, and
// the SHA-256 fingerprint `ssh-keygen -l` prints (SHA256: and the digest of
// the blob in base64 without padding). The API checks a key to add with
// these (data-checks), the agent reads and writes the file with them.
import { createHash } from 'node:crypto';

/** Types a key added through the API may have: those current OpenSSH makes. */
export const ADDABLE_KEY_TYPES: ReadonlySet<string> = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** Types read from a file: those, and DSA keys an older host may still list. */
const LISTED_KEY_TYPES: ReadonlySet<string> = new Set([...ADDABLE_KEY_TYPES, 'ssh-dss']);

export interface PublicKey {
  type: string;
  /** The blob as written, base64. */
  base64: string;
  /** '' when there is none. */
  comment: string;
  fingerprint: string;
}

export interface AuthorizedKeyLine extends PublicKey {
  /** What came before the type (`from="10.0.0.0/8",no-pty`), '' when nothing did. */
  options: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** The longest comment taken. */
export const SSH_KEY_COMMENT_MAX = 1024;

export const KEY_EXPECTED =
  'must be one public key as ssh-keygen writes it: <type> <base64> [comment], type ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521 or an sk- key, on one line without options';

/** Whether `s` holds a character below space, or DEL. */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** `SHA256:<base64 of the blob's SHA-256, no padding>`, as `ssh-keygen -l` prints it. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * How many SSH strings (a 4-byte length, then the bytes) each type's blob
 * holds, its name first: ed25519 the key; RSA e and n; ECDSA the curve and
 * the point; a security key's also the application; DSA p, q, g and y.
 */
const BLOB_FIELDS: Readonly<Record<string, number>> = {
  'ssh-ed25519': 2,
  'ssh-rsa': 3,
  'ecdsa-sha2-nistp256': 3,
  'ecdsa-sha2-nistp384': 3,
  'ecdsa-sha2-nistp521': 3,
  'sk-ssh-ed25519@openssh.com': 3,
  'sk-ecdsa-sha2-nistp256@openssh.com': 4,
  'ssh-dss': 5,
};

/** The blob's strings when it is exactly a sequence of them; null when it is not. */
function blobStrings(blob: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return null;
    const len = blob.readUInt32BE(at);
    if (at + 4 + len > blob.length) return null;
    out.push(blob.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}

/**
 * The blob of `base64` when it is well formed: padded base64 of exactly the
 * strings its type has, the first naming that type (an ed25519 key of 32
 * bytes). Null otherwise: a key cut short or labelled with another type.
 */
function blobOf(type: string, base64: string): Buffer | null {
  if (!BASE64.test(base64) || base64.length % 4 !== 0) return null;
  const blob = Buffer.from(base64, 'base64');
  const fields = blobStrings(blob);
  if (!fields || fields.length !== BLOB_FIELDS[type]) return null;
  if (fields[0]?.toString('latin1') !== type) return null;
  if (type.includes('ed25519') && fields[1]?.length !== 32) return null;
  return blob;
}

/** `type base64 [comment]` from the start of `text`, or null. */
function keyAt(text: string, types: ReadonlySet<string>): PublicKey | null {
  const m = /^(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(text);
  if (!m) return null;
  const [, type = '', base64 = '', rest = ''] = m;
  if (!types.has(type)) return null;
  const blob = blobOf(type, base64);
  if (!blob) return null;
  return { type, base64, comment: rest.trim(), fingerprint: fingerprintOf(blob) };
}

/**
 * Where the options of an authorized_keys line end: the first blank outside
 * double quotes (a backslash escapes a quote inside them), as sshd reads it.
 */
function optionsEnd(line: string): number {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && quoted && line[i + 1] === '"') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t')) return i;
  }
  return -1;
}

/** One line of authorized_keys as sshd reads it; null for a blank, a comment or a line it would not take. */
export function parseAuthorizedKeyLine(raw: string): AuthorizedKeyLine | null {
  const line = raw.replace(/\r$/, '').trim();
  if (line === '' || line.startsWith('#')) return null;
  const plain = keyAt(line, LISTED_KEY_TYPES);
  if (plain) return { ...plain, options: '' };
  const end = optionsEnd(line);
  if (end <= 0) return null;
  const key = keyAt(line.slice(end).trimStart(), LISTED_KEY_TYPES);
  return key ? { ...key, options: line.slice(0, end) } : null;
}

/** Every key of an authorized_keys file, in order; lines sshd would not take are left out. */
export function parseAuthorizedKeys(text: string): AuthorizedKeyLine[] {
  return text.split('\n').flatMap((l) => parseAuthorizedKeyLine(l) ?? []);
}

/**
 * A key as the API takes one to add: `type base64 [comment]` separated by
 * spaces, one line, no options, a current type, a blob that names that type,
 * a comment of printable text. Null when it is not one.
 */
export function parseKeyToAdd(text: string): PublicKey | null {
  if (!/^\S+ \S+(?: .*)?$/.test(text) || text !== text.trim()) return null;
  const key = keyAt(text, ADDABLE_KEY_TYPES);
  // A comment is printable text: a newline would start another line of the file.
  if (!key || hasControlCharacter(key.comment) || key.comment.length > SSH_KEY_COMMENT_MAX) {
    return null;
  }
  return key;
}

/** The line written for a key: its parts separated by one space. */
export function keyLine(key: PublicKey): string {
  return [key.type, key.base64, ...(key.comment ? [key.comment] : [])].join(' ');
}
