// Serves the web console's files at /ui/: the page and the script and style
// that scripts/build-ui.mjs builds into dist/ui at setup. The files are read
// once, at start, into memory: nothing a request names is ever looked up on
// disk, so no path can reach outside the console. The console is a client of
// this API like any other: its routes are open (a browser fetches the page
// before it holds a token), hidden from the OpenAPI document and not audited.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PACKAGE_ROOT } from '../../package-root.js';
import {
  CONSOLE_INDEX_ASSET,
  executableAsset,
  isSingleExecutable,
} from '../../single-executable.js';

/**
 * Where setup builds the console: <package>/dist/ui, whether the code runs
 * from src, dist or the bundle. Null in the single executable, which serves
 * the console it carries: files that happen to lie beside it are not its.
 */
export function defaultConsoleDir(): string | null {
  return isSingleExecutable() ? null : join(PACKAGE_ROOT, 'dist', 'ui');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

// The page runs only its own script and style and talks only to this origin:
// an injected <script> or a stray third-party request has nowhere to go.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  // The login link's code sits in the fragment, which is never sent; no referrer either.
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  /** Names with a content hash (app-3F2A….js) never change: cached for good. */
  immutable: boolean;
}

/**
 * The console's files by name: from the directory, or, when there is none
 * (the single executable) or it holds no console, from inside the single
 * executable, which carries its own.
 */
function consoleFiles(dir: string | null): Array<[string, Buffer]> {
  if (dir !== null && existsSync(join(dir, 'index.html'))) {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => [entry.name, readFileSync(join(dir, entry.name))]);
  }
  const index = executableAsset(CONSOLE_INDEX_ASSET);
  if (!index) return [];
  const files: Array<[string, Buffer]> = [];
  for (const name of index.toString('utf8').split('\n').filter(Boolean)) {
    const body = executableAsset(`ui/${name}`);
    if (body) files.push([name, body]);
  }
  return files;
}

function loadAssets(dir: string | null): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, body] of consoleFiles(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    assets.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      immutable: /-[A-Z0-9]{8,}\.(js|css)$/.test(name),
    });
  }
  if (!assets.has('index.html')) assets.clear();
  return assets;
}

export interface ConsoleOptions {
  /** The built console (index.html and its assets); null: the one the single executable carries. */
  dir: string | null;
  /** Told once when the console is not built. */
  onMissing?: (message: string) => void;
}

export function registerConsole(app: FastifyInstance, opts: ConsoleOptions): void {
  const assets = loadAssets(opts.dir);
  const missing =
    opts.dir === null
      ? 'This executable carries no web console: build it with `npm run build:release` from a checkout whose console is built.'
      : `The web console is not built (no ${join(opts.dir, 'index.html')}): run \`node scripts/setup.mjs\` (or \`npm run build:ui\`), then restart.`;
  if (assets.size === 0) opts.onMissing?.(missing);

  const send = (name: string, ifNoneMatch: string | undefined, reply: FastifyReply) => {
    reply.headers(SECURITY_HEADERS);
    if (assets.size === 0) {
      return reply.code(503).type('text/plain; charset=utf-8').send(`${missing}\n`);
    }
    const asset = assets.get(name);
    if (!asset) {
      return reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send(`The web console has no file ${name}.\n`);
    }
    reply
      .header('etag', asset.etag)
      .header(
        'cache-control',
        asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    if (ifNoneMatch === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  };

  const route = { config: { permission: 'public' as const }, schema: { hide: true } };
  // The page's own links are relative to /ui/, so /ui alone is sent there.
  app.get('/ui', route, async (_req, reply) => reply.redirect('/ui/', 308));
  app.get('/ui/', route, async (req, reply) =>
    send('index.html', req.headers['if-none-match'], reply),
  );
  app.get<{ Params: { '*': string } }>('/ui/*', route, async (req, reply) =>
    send(req.params['*'], req.headers['if-none-match'], reply),
  );
}
