// The SDK as the package's library entry: `import { OsapiClient } from 'osapi'`
// resolved by Node itself (a package may import itself by its name through
// its `exports`), against the compiled dist/, as a user of the package gets it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/system.js';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  types?: string;
  exports?: Record<string, { types?: string; default?: string } | string>;
};

function runNode(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b;
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b;
    });
    // Bounded: a hung child fails the test instead of the whole run.
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the package entry', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    const entry = join(ROOT, 'dist', 'sdk', 'client.js');
    if (!existsSync(entry)) {
      throw new Error(`${entry} is missing: run \`npm run build\` (or \`npm run setup\`) first.`);
    }
    sys = await startTestSystem();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('points exports and types at the compiled SDK, with its declarations', () => {
    const dot = pkg.exports?.['.'];
    expect(dot).toEqual({ types: './dist/sdk/client.d.ts', default: './dist/sdk/client.js' });
    expect(pkg.types).toBe('./dist/sdk/client.d.ts');
    expect(existsSync(join(ROOT, 'dist', 'sdk', 'client.d.ts'))).toBe(true);
  });

  it(`import { OsapiClient } from '${pkg.name}' resolves and talks to a running API`, async () => {
    const script = `
      const { OsapiClient, OsapiApiError } = await import(${JSON.stringify(pkg.name)});
      const client = new OsapiClient({ url: process.env.OSAPI_TEST_URL });
      const version = await client.version();
      let refused = null;
      try { await client.jobList(); } catch (err) { refused = err instanceof OsapiApiError ? err.status : String(err); }
      process.stdout.write(JSON.stringify({ version, refused }));
    `;
    const r = await runNode(script, { OSAPI_TEST_URL: sys.url });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      version: { status: number; body: unknown };
      refused: unknown;
    };
    expect(out.version).toEqual({ status: 200, body: { version: pkg.version } });
    // Without a token a protected route is refused, as an error class the user can import.
    expect(out.refused).toBe(401);
  });
});

describe('src/sdk/client.ts', () => {
  it('has a doc comment on every public method of OsapiClient', () => {
    const path = join(ROOT, 'src', 'sdk', 'client.ts');
    const text = readFileSync(path, 'utf8');
    const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
    const cls = source.statements.find(
      (s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === 'OsapiClient',
    );
    expect(cls).toBeDefined();
    const undocumented: string[] = [];
    let publicMethods = 0;
    for (const m of cls?.members ?? []) {
      if (!ts.isMethodDeclaration(m) && !ts.isGetAccessor(m) && !ts.isSetAccessor(m)) continue;
      const hidden = (ts.getModifiers(m) ?? []).some(
        (x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword,
      );
      if (hidden || ts.isPrivateIdentifier(m.name)) continue;
      publicMethods++;
      // The comment right above the method, not one further up.
      const comments = ts.getLeadingCommentRanges(text, m.getFullStart()) ?? [];
      const last = comments.at(-1);
      if (!last || !text.startsWith('/**', last.pos)) undocumented.push(m.name.getText(source));
    }
    expect(publicMethods).toBeGreaterThan(20);
    expect(undocumented, 'public methods without a /** doc comment */').toEqual([]);
  });
});
