// What the DNS configuration was before this system first changed it, kept in
// the agent's state directory (<state_dir>/dns-originals) so that
// network.dns.delete can put it back: the resolver file's bytes, by its
// path's digest, or, where systemd-resolved holds the configuration, a mark
// that this system set an interface's (the removal reverts it). Kept once, at
// the first change; later changes leave it; the removal forgets it.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathDigest } from '../file-access.js';
import { readFileIfPresent, replaceFile } from './host-tools.js';

const DIR = 'dns-originals';

function fileRecord(stateDir: string, path: string): string {
  return join(stateDir, DIR, `file-${pathDigest(path)}.json`);
}

/** Interface names on this path are letters and digits only (data-checks.ts): safe in a file name. */
function resolvedRecord(stateDir: string, iface: string): string {
  return join(stateDir, DIR, `resolved-${iface}.json`);
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  const bytes = await readFileIfPresent(path);
  if (bytes === null) return null;
  const parsed: unknown = JSON.parse(bytes.toString('utf8'));
  return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
}

async function writeOnce(path: string, value: unknown): Promise<void> {
  if ((await readJson(path)) !== null) return;
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  await replaceFile(path, JSON.stringify(value), { mode: 0o600 });
}

/** Keeps the resolver file's bytes, unless an earlier change kept them already. */
export function keepOriginalFile(stateDir: string, path: string, bytes: Buffer): Promise<void> {
  return writeOnce(fileRecord(stateDir, path), { path, content: bytes.toString('base64') });
}

/** The resolver file's bytes before this system first changed it, or null when it never did. */
export async function originalFile(stateDir: string, path: string): Promise<Buffer | null> {
  const record = await readJson(fileRecord(stateDir, path));
  if (record?.path !== path || typeof record.content !== 'string') return null;
  return Buffer.from(record.content, 'base64');
}

export function forgetOriginalFile(stateDir: string, path: string): Promise<void> {
  return rm(fileRecord(stateDir, path), { force: true });
}

/** What systemd-resolved had for an interface before this system first set it. */
export interface ResolvedOriginal {
  interface: string;
  servers: string[];
  domains: string[];
}

export function keepResolvedOriginal(stateDir: string, original: ResolvedOriginal): Promise<void> {
  return writeOnce(resolvedRecord(stateDir, original.interface), original);
}

/** Whether this system set the interface's DNS through systemd-resolved (and has not removed it). */
export async function resolvedWasSet(stateDir: string, iface: string): Promise<boolean> {
  return (await readJson(resolvedRecord(stateDir, iface)))?.interface === iface;
}

export function forgetResolvedOriginal(stateDir: string, iface: string): Promise<void> {
  return rm(resolvedRecord(stateDir, iface), { force: true });
}
