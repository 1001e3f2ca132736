// The SDK's published declarations stand on the wire contract alone: built
// as `npm run build` builds them (tsconfig.build.json), no dist/sdk
// declaration, nor any file it reaches through relative imports, names the
// server's libraries (fastify, @nats-io, pino) or the server's own modules.
// And src/contract, which the SDK and the console import, imports only
// the schema library and itself.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');
const FORBIDDEN_PACKAGES = [/^fastify(\/|$)/, /^@fastify\//, /^@nats-io\//, /^pino(\/|$)/];
const FORBIDDEN_DIRS = ['api', 'job', 'nats', 'agent'];

/** Every module specifier of a TypeScript or declaration file: imports, re-exports, import types. */
function specifiers(text: string): string[] {
  const out: string[] = [];
  const info = ts.preProcessFile(text, true, true);
  for (const ref of info.importedFiles) out.push(ref.fileName);
  for (const ref of info.referencedFiles) out.push(ref.fileName);
  for (const ref of info.typeReferenceDirectives) out.push(ref.fileName);
  return out;
}

describe('the SDK declarations (dist/sdk/*.d.ts)', () => {
  let outDir: string;
  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), 'osapi-sdk-dts-'));
    const configPath = join(ROOT, 'tsconfig.build.json');
    const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
    const sdkFiles = readdirSync(join(SRC, 'sdk'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(SRC, 'sdk', f));
    // The same options as the build, declarations only, into a directory of
    // our own: only what the SDK reaches is compiled, as dist/ lays it out.
    const program = ts.createProgram(sdkFiles, {
      ...parsed.options,
      rootDir: SRC,
      outDir,
      declaration: true,
      emitDeclarationOnly: true,
      noEmit: false,
      sourceMap: false,
      declarationMap: false,
    });
    const result = program.emit();
    const errors = ts
      .getPreEmitDiagnostics(program)
      .concat(result.diagnostics)
      .filter((d) => d.category === ts.DiagnosticCategory.Error);
    expect(errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  }, 60_000);
  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('reference neither fastify, @nats-io, pino nor dist/api, dist/job, dist/nats, dist/agent', () => {
    const sdkDir = join(outDir, 'sdk');
    const queue = readdirSync(sdkDir)
      .filter((f) => f.endsWith('.d.ts'))
      .map((f) => join(sdkDir, f));
    expect(queue.map((f) => relative(outDir, f))).toContain(join('sdk', 'client.d.ts'));
    const seen = new Set<string>();
    const problems: string[] = [];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const where = relative(outDir, file);
      const top = where.split(/[\\/]/)[0] ?? '';
      if (FORBIDDEN_DIRS.includes(top)) problems.push(`${where} is a server module`);
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec).replace(/\.js$/, '.d.ts');
          if (!existsSync(target)) problems.push(`${where}: ${spec} has no declaration`);
          else queue.push(target);
        } else if (FORBIDDEN_PACKAGES.some((re) => re.test(spec))) {
          problems.push(`${where} references ${spec}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The walk reached the contract: the SDK's types are the contract's.
    expect([...seen].some((f) => relative(outDir, f).startsWith('contract'))).toBe(true);
  });
});

describe('src/contract', () => {
  it('imports only typebox and its own files', () => {
    const dir = join(SRC, 'contract');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const f of files) {
      for (const spec of specifiers(readFileSync(join(dir, f), 'utf8'))) {
        if (spec === 'typebox') continue;
        const own = /^\.\/([a-z0-9-]+)\.js$/.exec(spec);
        if (own && files.includes(`${own[1]}.ts`)) continue;
        problems.push(`${f} imports ${spec}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
