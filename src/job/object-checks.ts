// Checks of an object's content that an operation's declaration asks for
// (`objectCheck`): the API applies it when it accepts the job, reading the
// object once, so bad content is a 400 naming the field; the agent applies
// the same function again before it writes, as the object may have changed
// between (its job then carries another digest) or the job may not have come
// through the API.
import { X509Certificate } from 'node:crypto';
import type { ObjectCheck } from '../contract/operations.js';
import { errorText } from '../exec/errno.js';

/** A trust store file is a few KiB; a bundle of a hundred CAs stays well below this. */
export const PEM_MAX_BYTES = 1024 * 1024;
const CERTIFICATES_MAX = 100;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END \1-----/g;

/**
 * The certificates a PEM text holds, or why it is not what the trust store
 * takes: certificates only (a private key or any other block is refused),
 * nothing else but blank space around them, each a CA (basicConstraints
 * CA:TRUE).
 */
export function parseCaPem(
  source: string,
  bytes: Uint8Array,
): { certificates: X509Certificate[] } | { problem: string } {
  if (bytes.byteLength > PEM_MAX_BYTES) {
    return { problem: `${source} is larger than ${PEM_MAX_BYTES} bytes: no CA file is` };
  }
  const text = Buffer.from(bytes).toString('latin1');
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    return {
      problem: `${source} holds a private key: upload the certificate alone (a private key never belongs in a trust store)`,
    };
  }
  const certificates: X509Certificate[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (m[1] !== 'CERTIFICATE') {
      return { problem: `${source} holds a "${m[1]}" block: only CERTIFICATE blocks may be in it` };
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(m[0]);
    } catch (err) {
      return {
        problem: `certificate ${certificates.length + 1} of ${source} cannot be read: ${errorText(err)}`,
      };
    }
    if (!cert.ca) {
      return {
        problem: `certificate ${certificates.length + 1} of ${source} (${oneLine(cert.subject)}) is not a CA certificate: it lacks basicConstraints CA:TRUE`,
      };
    }
    certificates.push(cert);
    if (certificates.length > CERTIFICATES_MAX) {
      return { problem: `${source} holds more than ${CERTIFICATES_MAX} certificates` };
    }
  }
  if (certificates.length === 0) {
    return { problem: `${source} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  }
  if (text.replace(PEM_BLOCK, '').trim() !== '') {
    return {
      problem: `${source} holds text besides its certificates: give PEM certificates only`,
    };
  }
  return { certificates };
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

/**
 * Why an object's content does not pass the check its operation declares,
 * or null; `source` names it in the sentence (`object corp-root.pem`).
 */
export function objectContentProblem(
  check: ObjectCheck,
  source: string,
  bytes: Uint8Array,
): string | null {
  switch (check) {
    case 'ca-certificates': {
      const parsed = parseCaPem(source, bytes);
      return 'problem' in parsed ? parsed.problem : null;
    }
  }
}
