// Files a single-host install keeps in its per-user state directory: the
// generated signing key, the JetStream store, and the local client file that
// lets the CLI on this machine call the API without copying a token by hand.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function signingKeyPath(stateDir: string): string {
  return join(stateDir, 'signing.key');
}

/** The API's Ed25519 job-signing key pair, made on first start. */
export function jobSigningKeyPath(stateDir: string): string {
  return join(stateDir, 'job-signing.key');
}

export function jobPublicKeyPath(stateDir: string): string {
  return join(stateDir, 'job-signing.pub');
}

export function defaultStoreDir(stateDir: string): string {
  return join(stateDir, 'jetstream');
}

function localClientPath(stateDir: string): string {
  return join(stateDir, 'local-client.json');
}

export interface LocalClient {
  url: string;
  token: string;
}

/** Written by `osapi start` with mode 0600: only this user can read the token. */
export function writeLocalClient(stateDir: string, c: LocalClient): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = localClientPath(stateDir);
  rmSync(path, { force: true });
  writeFileSync(path, `${JSON.stringify(c)}\n`, { mode: 0o600, flag: 'wx' });
}

export function readLocalClient(stateDir: string): LocalClient | null {
  try {
    const v = JSON.parse(readFileSync(localClientPath(stateDir), 'utf8')) as Partial<LocalClient>;
    return typeof v.url === 'string' && typeof v.token === 'string'
      ? { url: v.url, token: v.token }
      : null;
  } catch {
    return null;
  }
}

export function removeLocalClient(stateDir: string): void {
  rmSync(localClientPath(stateDir), { force: true });
}
