// Certificates for the trust-store tests, made by this machine's openssl:
// self-signed, EC P-256, valid two days, a CA unless asked otherwise.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A self-signed certificate and its key (PEM), written under `dir` first. */
export function makeCert(dir: string, cn: string, ca = true): { cert: string; key: string } {
  const base = join(dir, `${cn}-${randomBytes(3).toString('hex')}`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${base}.key`,
      '-out',
      `${base}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `basicConstraints=critical,CA:${ca ? 'TRUE' : 'FALSE'}`,
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(`${base}.crt`, 'utf8'), key: readFileSync(`${base}.key`, 'utf8') };
}
