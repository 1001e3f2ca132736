// Every NATS subject, stream or bucket name and KV key is spelled in
// src/names/names.ts alone, and src/job and src/nats do not import each other
// (both use the names module; the dependency between them runs one way).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');
const NAMES_MODULE = 'src/names/names.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

const rel = (p: string) => relative(ROOT, p).replaceAll('\\', '/');

/** The code of a file with its comments removed (naively: enough for a scan). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** A string or template literal that starts with a NATS name or KV key prefix. */
const NAME_LITERAL =
  /(['"`])(\$KV\.|KV_|\$JS\.|_INBOX|KV-Operation|jobs\.|status\.|claims\.|expected\.|cancel\.|idempotency\.|entries\.|agents\.|output\.)/g;

/**
 * Files that still spell a name, to be fixed elsewhere (none now). Each must
 * still match, so an entry is removed once its file is fixed.
 */
const PENDING: Record<string, string> = {};

/** A JetStream API subject composed in place rather than by the names module. */
const JS_API_TEMPLATE = /\$\{JS_API\}/g;

function nameLiterals(file: string): string[] {
  const c = code(readFileSync(file, 'utf8'));
  return [
    ...[...c.matchAll(NAME_LITERAL)].map((m) => m[2] as string),
    ...[...c.matchAll(JS_API_TEMPLATE)].map((m) => m[0]),
  ];
}

describe('names have one home', () => {
  it('finds name literals in the names module itself (the scan works)', () => {
    expect(nameLiterals(join(ROOT, NAMES_MODULE))).toEqual(
      expect.arrayContaining([
        '$KV.',
        'KV_',
        '$JS.',
        'jobs.',
        'status.',
        'claims.',
        'agents.',
        `\${JS_API}`,
      ]),
    );
  });

  it('no other module under src/ spells a subject, stream, bucket or key', () => {
    const found: Record<string, string[]> = {};
    for (const f of sourceFiles(SRC)) {
      const r = rel(f);
      if (r === NAMES_MODULE) continue;
      const hits = nameLiterals(f).filter((h) => h !== PENDING[r]);
      if (hits.length > 0) found[r] = hits;
    }
    expect(found).toEqual({});
  });

  it('lists as pending only files that still spell what they are listed for', () => {
    for (const [file, literal] of Object.entries(PENDING)) {
      expect(nameLiterals(join(ROOT, file)), file).toContain(literal);
    }
  });
});

/** The src/ files one file imports (relative imports only). */
function imports(file: string): string[] {
  const text = code(readFileSync(file, 'utf8'));
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)].map(
    (m) => m[1] as string,
  );
  return specs.map((s) => rel(resolve(dirname(file), s.replace(/\.js$/, '.ts'))));
}

/** Every src/ module reachable from the files of one folder. */
function reachable(folder: string): Map<string, string> {
  const seen = new Map<string, string>(); // module -> who imported it
  const todo = sourceFiles(join(SRC, folder)).map((f) => rel(f));
  for (const f of todo) seen.set(f, f);
  while (todo.length > 0) {
    const f = todo.pop() as string;
    for (const dep of imports(join(ROOT, f))) {
      if (!seen.has(dep)) {
        seen.set(dep, f);
        todo.push(dep);
      }
    }
  }
  return seen;
}

describe('src/job and src/nats', () => {
  it('src/nats reaches nothing in src/job, even through other modules', () => {
    const into = [...reachable('nats')]
      .filter(([m]) => m.startsWith('src/job/'))
      .map(([m, by]) => `${by} -> ${m}`);
    expect(into).toEqual([]);
  });

  it('src/job does not import src/nats back through any module', () => {
    // src/job may use src/nats (its error classes); nothing it reaches there
    // may lead back into src/job, which would make the two import each other.
    const viaNats = [...reachable('job')]
      .filter(([m]) => m.startsWith('src/nats/'))
      .map(([m]) => m);
    for (const m of viaNats) {
      for (const dep of imports(join(ROOT, m))) expect(dep, m).not.toMatch(/^src\/job\//);
    }
  });

  it('the names module imports only the agent name rule, which imports nothing', () => {
    const rule = 'src/contract/agent-name.ts';
    expect(imports(join(ROOT, NAMES_MODULE))).toEqual([rule]);
    expect(readFileSync(join(ROOT, rule), 'utf8')).not.toMatch(/^import /m);
  });
});

describe('the job store', () => {
  it('is the only module that opens the job buckets (the audit log, the login codes and the layout keep their own)', () => {
    const KV_OWNERS = new Set([
      'src/job/store.ts',
      // The audit log's buckets, its own store.
      'src/api/audit/log.ts',
      'src/api/start.ts',
      // The console's login codes, their own bucket.
      'src/api/session/login-codes.ts',
      'src/api/session/routes.ts',
      // The file deployments' records, their own bucket.
      'src/agent/file-access.ts',
      // Makes every bucket once, at start.
      'src/nats/layout.ts',
    ]);
    const others = sourceFiles(SRC)
      .filter((f) => /from '@nats-io\/kv'/.test(readFileSync(f, 'utf8')))
      .map(rel)
      .filter((f) => !KV_OWNERS.has(f));
    expect(others).toEqual([]);
  });

  it('hands out no bucket: its type has no KV field', () => {
    const text = code(readFileSync(join(SRC, 'job', 'store.ts'), 'utf8'));
    const iface = /export interface JobStore \{([\s\S]*?)\n\}/.exec(text)?.[1] ?? '';
    expect(iface).toContain('names');
    expect(iface).not.toMatch(/: KV\b/);
  });
});
