// CA certificates of the system trust store (Debian's ca-certificates): a
// certificate this system adds is a file osapi-<name>.crt in
// agent.certificates.dir (/usr/local/share/ca-certificates), then
// update-ca-certificates links it into /etc/ssl/certs and rebuilds the
// bundle. Only files with that prefix are changed; the distribution's own
// (/usr/share/ca-certificates) are listed as `system`. The PEM is checked
// before anything is written: certificates only, each a CA, no private key
// (the API applies the same check when it accepts the job; the object may
// have changed since).

import type { X509Certificate } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateCAInfo } from '../../contract/certificate.js';
import type { OperationType } from '../../contract/operations.js';
import { errorText } from '../../exec/errno.js';
import { objectContentProblem, parseCaPem } from '../../job/object-checks.js';
import { type NodeOutcome, nodeHandler } from './checked.js';
import {
  needsRoot,
  readFileIfPresent,
  replaceFile,
  runsAsRoot,
  runTool,
  toolRunnable,
} from './host-tools.js';
import { serializedOn } from './resolv-conf.js';
import type { HandlerContext, JobHandler } from './types.js';

export const DEFAULT_CERTIFICATE_DIR = '/usr/local/share/ca-certificates';
/** Where the distribution's CA certificates are (listed as `system`, never changed). */
const SYSTEM_CERTIFICATE_DIR = '/usr/share/ca-certificates';
const UPDATE_TOOL = 'update-ca-certificates';
const FILE_PREFIX = 'osapi-';
const TOOL_TIMEOUT_MS = 50_000;
const QUEUE = 'ca certificates';
/**
 * Without --fresh, update-ca-certificates rehashes /etc/ssl/certs only when a
 * link is added: a removed or replaced local file would leave its links (and
 * the hash link of its old subject) behind, and the update.d hooks (a Java
 * keystore) would keep it. --fresh rebuilds the links from the files.
 */
const TOOL_ARGS = ['--fresh'];

const fileOf = (name: string) => `${FILE_PREFIX}${name}.crt`;
const dirOf = (ctx: HandlerContext) => ctx.host?.certificateDir ?? DEFAULT_CERTIFICATE_DIR;
const toolOf = (ctx: HandlerContext) => ctx.host?.updateCaCertificates ?? UPDATE_TOOL;

function infoOf(
  name: string,
  source: 'system' | 'custom',
  certificates: X509Certificate[],
): CertificateCAInfo {
  const first = certificates[0] as X509Certificate;
  return {
    name,
    source,
    subject: first.subject,
    issuer: first.issuer,
    not_after: new Date(first.validTo).toISOString(),
    fingerprint: first.fingerprint256,
    certificates: certificates.length,
  };
}

/** A trust store file's entry, or null when it cannot be read as one. */
async function describeFile(
  path: string,
  name: string,
  source: 'system' | 'custom',
): Promise<CertificateCAInfo | null> {
  try {
    const bytes = await readFile(path);
    const parsed = parseCaPem(path, bytes);
    return 'certificates' in parsed ? infoOf(name, source, parsed.certificates) : null;
  } catch {
    return null;
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** The distribution's certificates, one directory down (mozilla/*.crt). */
async function systemCertificates(): Promise<CertificateCAInfo[]> {
  const out: CertificateCAInfo[] = [];
  for (const sub of await entries(SYSTEM_CERTIFICATE_DIR)) {
    for (const file of await entries(join(SYSTEM_CERTIFICATE_DIR, sub))) {
      if (!file.endsWith('.crt')) continue;
      const name = `${sub}/${file}`;
      const info = await describeFile(join(SYSTEM_CERTIFICATE_DIR, name), name, 'system');
      if (info) out.push(info);
    }
  }
  return out;
}

async function customCertificates(dir: string): Promise<CertificateCAInfo[]> {
  const out: CertificateCAInfo[] = [];
  for (const file of await entries(dir)) {
    const name = /^osapi-(.+)\.crt$/.exec(file)?.[1];
    if (name === undefined) continue;
    const info = await describeFile(join(dir, file), name, 'custom');
    if (info) out.push(info);
  }
  return out;
}

const noTool = (tool: string) => ({
  unsupported: `${tool} is not installed on this host (package ca-certificates): its trust store cannot be changed`,
});

/** Puts the file back as it was (`before` null: no file), ignoring what cannot be undone. */
async function restore(path: string, before: Buffer | null): Promise<void> {
  if (before === null) await unlink(path).catch(() => {});
  else await replaceFile(path, before).catch(() => {});
}

/**
 * Makes the file hold `content` (null: no file), then runs
 * update-ca-certificates --fresh; when that fails, puts the file back and runs it
 * again, so the trust store is left as it was.
 */
async function changeFile<T extends OperationType>(
  ctx: HandlerContext,
  name: string,
  path: string,
  before: Buffer | null,
  content: Uint8Array | null,
): Promise<NodeOutcome<T>> {
  if (content === null) await unlink(path);
  else await replaceFile(path, content, { mode: 0o644 });
  const run = await runTool(toolOf(ctx), TOOL_ARGS, {
    signal: ctx.signal,
    timeoutMs: TOOL_TIMEOUT_MS,
  });
  if (run.kind === 'ok') return { ok: true, result: { name, changed: true } } as NodeOutcome<T>;
  await restore(path, before);
  const again = await runTool(toolOf(ctx), TOOL_ARGS, {
    signal: ctx.signal,
    timeoutMs: TOOL_TIMEOUT_MS,
  });
  const why = run.kind === 'missing' ? `${run.tool} disappeared` : run.error;
  if (again.kind !== 'ok') {
    return {
      ok: false,
      error: `${why}; the file was put back but the trust store could not be rebuilt: run ${toolOf(ctx)} on the host`,
      changed: true,
    };
  }
  return { ok: false, error: `${why}; the trust store is as it was` };
}

/** The certificate the job's object holds, checked, or why it cannot be written. */
async function objectPem(
  data: { object: string; object_sha256: string },
  ctx: HandlerContext,
): Promise<{ bytes: Uint8Array } | { error: string }> {
  if (!ctx.objects) {
    return { error: 'this agent cannot read the file store, so it cannot write a certificate' };
  }
  let bytes: Uint8Array;
  try {
    bytes = await ctx.objects.read(data.object, data.object_sha256, ctx.signal);
  } catch (err) {
    return { error: errorText(err) };
  }
  // The API checked it too, but the object may have changed since: this is the content written.
  const problem = objectContentProblem('ca-certificates', `object ${data.object}`, bytes);
  return problem ? { error: problem } : { bytes };
}

export const certificateListHandler: JobHandler = nodeHandler(
  'certificate.ca.list',
  async (_data, ctx) => ({
    ok: true,
    result: {
      certificates: [...(await customCertificates(dirOf(ctx))), ...(await systemCertificates())],
    },
  }),
);

function writeHandler(type: 'certificate.ca.create' | 'certificate.ca.update'): JobHandler {
  return nodeHandler(type, (data, ctx) =>
    serializedOn(QUEUE, async (): Promise<NodeOutcome<typeof type>> => {
      if (!(await toolRunnable(toolOf(ctx)))) return noTool(toolOf(ctx));
      if (!runsAsRoot()) return needsRoot('changing the trust store');
      const pem = await objectPem(data, ctx);
      if ('error' in pem) return { ok: false, error: pem.error };
      const path = join(dirOf(ctx), fileOf(data.name));
      const before = await readFileIfPresent(path);
      if (before?.equals(pem.bytes)) {
        return { ok: true, result: { name: data.name, changed: false } };
      }
      if (type === 'certificate.ca.create' && before !== null) {
        return {
          ok: false,
          error: `certificate ${data.name} exists already with other content: replace it with certificate.ca.update (PUT)`,
        };
      }
      if (type === 'certificate.ca.update' && before === null) {
        return {
          ok: false,
          error: `no certificate ${data.name} on this host: add it with certificate.ca.create (POST)`,
        };
      }
      if (ctx.signal.aborted) {
        return { ok: false, error: 'the agent stopped before changing anything' };
      }
      return changeFile(ctx, data.name, path, before, pem.bytes);
    }),
  );
}

export const certificateCreateHandler = writeHandler('certificate.ca.create');
export const certificateUpdateHandler = writeHandler('certificate.ca.update');

export const certificateDeleteHandler: JobHandler = nodeHandler(
  'certificate.ca.delete',
  (data, ctx) =>
    serializedOn(QUEUE, async (): Promise<NodeOutcome<'certificate.ca.delete'>> => {
      if (!(await toolRunnable(toolOf(ctx)))) return noTool(toolOf(ctx));
      if (!runsAsRoot()) return needsRoot('changing the trust store');
      const path = join(dirOf(ctx), fileOf(data.name));
      const before = await readFileIfPresent(path);
      if (before === null) return { ok: true, result: { name: data.name, changed: false } };
      if (ctx.signal.aborted) {
        return { ok: false, error: 'the agent stopped before changing anything' };
      }
      return changeFile(ctx, data.name, path, before, null);
    }),
);
