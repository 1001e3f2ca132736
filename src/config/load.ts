// Loads the configuration: defaults < YAML file < OSAPI_* env < overrides (CLI flags), validates
// it all at once against the schema and returns milliseconds for durations and an absolute state_dir.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { TSchema } from 'typebox';
import { Settings } from 'typebox/system';
import { DecodeUnsafe, Value } from 'typebox/value';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { anyProgramWord } from '../auth/command-policy.js';
import { convertString } from './convert.js';
import {
  CONFIG_FILE_ENV,
  closest,
  configKeys,
  isSection,
  leafByEnv,
  leafByPath,
  step,
} from './keys.js';
import { REDACTED, redactValue } from './redact.js';
import { annotations, type Config, ConfigSchema, SECRET_KEYS } from './schema.js';

/** Read when no file is named and it exists; its absence is not an error. */
export const DEFAULT_CONFIG_FILE = '/etc/osapi/osapi.yaml';

/** Invalid configuration. The message holds one problem per line and never a secret's value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  /** Config file to read; it must exist. Defaults to $OSAPI_FILE, then `defaultFile` if present. */
  file?: string;
  /** Environment to read OSAPI_* variables from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Values from CLI flags: dotted leaf path -> value; undefined entries are ignored. */
  overrides?: Record<string, unknown>;
  /** How to name an override in messages, e.g. { 'api.server.port': '--port' }; else "override". */
  overrideLabels?: Record<string, string>;
  /** Path tried when no file is named; null disables it. Defaults to DEFAULT_CONFIG_FILE. */
  defaultFile?: string | null;
}

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file actually read, or null. */
  file: string | null;
  /** Every dotted leaf path set by the file, env or an override (not left to its default). */
  explicit: ReadonlySet<string>;
  /** Non-fatal notes: unknown OSAPI_* variables, YAML warnings. */
  warnings: string[];
  /**
   * Secret keys (signing key, token, passwords) the file itself gives a value,
   * whatever env or a flag then set: what makes the file worth reading.
   */
  fileSecrets: string[];
}

type Origin = { kind: 'env'; name: string } | { kind: 'override'; label: string };

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Errors are collected exhaustively; TypeBox stops at 8 unless told otherwise. */
const MAX_ERRORS = 1000;

// ---------------------------------------------------------------------------------------------
// Reading the file.

interface FileSource {
  path: string;
  data: Json;
  /** Line of each dotted path's key in the file. */
  lines: Map<string, number>;
}

function readConfigFile(path: string, mustExist: boolean): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      if (!mustExist) return undefined;
      throw new ConfigError([`config file not found: ${path}`]);
    }
    throw new ConfigError([`cannot read config file ${path}: ${code ?? String(err)}`]);
  }
}

function recordLines(node: unknown, prefix: string[], lc: LineCounter, out: Map<string, number>) {
  if (isMap(node)) {
    for (const pair of node.items) {
      const keyNode = pair.key;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const path = [...prefix, key];
      const offset =
        (isNode(keyNode) ? keyNode.range?.[0] : undefined) ??
        (isNode(pair.value) ? pair.value.range?.[0] : undefined);
      if (offset !== undefined) out.set(path.join('.'), lc.linePos(offset).line);
      recordLines(pair.value, path, lc, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      const path = [...prefix, String(index)];
      const offset = isNode(item) ? item.range?.[0] : undefined;
      if (offset !== undefined) out.set(path.join('.'), lc.linePos(offset).line);
      recordLines(item, path, lc, out);
    });
  }
}

/** `key:` with no value means "not set" rather than null, as most YAML configs intend. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isPlainObject(value)) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== null) out[k] = dropNulls(v);
  }
  return out;
}

function parseConfigFile(path: string, text: string, warnings: string[]): FileSource {
  const lc = new LineCounter();
  // prettyErrors off: the pretty form quotes the offending source line, which may hold a secret.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const where = (offset: number) => {
    const { line, col } = lc.linePos(offset);
    return `${path}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${where(e.pos[0])}: invalid YAML: ${e.message}`));
  }
  for (const w of doc.warnings) warnings.push(`${where(w.pos[0])}: ${w.message}`);
  const lines = new Map<string, number>([['', 1]]);
  recordLines(doc.contents, [], lc, lines);
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) return { path, data: {}, lines };
  if (!isPlainObject(raw)) {
    throw new ConfigError([
      `(root): expected a mapping of configuration keys, got ${formatValue(raw)} (from ${path}:1)`,
    ]);
  }
  return { path, data: dropNulls(raw) as Json, lines };
}

function resolveFile(opts: LoadConfigOptions, env: NodeJS.ProcessEnv, warnings: string[]) {
  const named = opts.file ?? (env[CONFIG_FILE_ENV] || undefined);
  if (named !== undefined) {
    const path = resolve(named);
    const text = readConfigFile(path, true) ?? '';
    return parseConfigFile(path, text, warnings);
  }
  const fallback = opts.defaultFile === undefined ? DEFAULT_CONFIG_FILE : opts.defaultFile;
  if (fallback === null) return undefined;
  const path = resolve(fallback);
  const text = readConfigFile(path, false);
  return text === undefined ? undefined : parseConfigFile(path, text, warnings);
}

// ---------------------------------------------------------------------------------------------
// Merging.

function setPath(target: Json, path: string, value: unknown): boolean {
  const segments = path.split('.');
  let node = target;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    if (next === undefined) {
      const created: Json = {};
      node[segment] = created;
      node = created;
    } else if (isPlainObject(next)) {
      node = next;
    } else {
      // The file put a scalar where a section belongs; that is reported by validation.
      return false;
    }
  }
  node[segments[segments.length - 1] ?? path] = value;
  return true;
}

function getPath(target: unknown, segments: readonly string[]): unknown {
  let node = target;
  for (const segment of segments) {
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (isPlainObject(node)) node = node[segment];
    else return undefined;
  }
  return node;
}

function collectFileLeaves(schema: TSchema, value: unknown, prefix: string, out: Set<string>) {
  if (isSection(schema)) {
    if (!isPlainObject(value)) return;
    for (const [key, child] of Object.entries(value)) {
      const childSchema = schema.properties[key];
      if (childSchema !== undefined) {
        collectFileLeaves(childSchema, child, prefix === '' ? key : `${prefix}.${key}`, out);
      }
    }
    return;
  }
  if (value !== undefined && leafByPath(prefix) !== undefined) out.add(prefix);
}

function forgetFileLines(lines: Map<string, number> | undefined, path: string) {
  if (lines === undefined) return;
  for (const key of [...lines.keys()]) {
    if (key === path || key.startsWith(`${path}.`)) lines.delete(key);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages.

function formatValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(redactValue(value)) ?? String(value);
  return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

interface Context {
  merged: Json;
  origins: Map<string, Origin>;
  file: FileSource | undefined;
}

function originOf(segments: readonly string[], ctx: Context): string {
  for (let i = segments.length; i >= 0; i--) {
    const path = segments.slice(0, i).join('.');
    const origin = ctx.origins.get(path);
    if (origin !== undefined) {
      return origin.kind === 'env' ? `from ${origin.name}` : `from ${origin.label}`;
    }
    const line = ctx.file?.lines.get(path);
    if (line !== undefined && ctx.file !== undefined) return `from ${ctx.file.path}:${line}`;
  }
  return 'default';
}

function unknownKeyProblem(
  path: string,
  key: string,
  known: readonly string[],
  origin: string,
  listKnown = true,
): string {
  const guess = closest(key, known);
  const hint = [guess === undefined ? undefined : `did you mean "${guess}"?`];
  // A section's keys fit on the line; the full list of leaf paths does not.
  if (listKnown && known.length <= 12) hint.push(`known keys: ${known.join(', ')}`);
  const detail = hint.filter((h) => h !== undefined).join('; ');
  const expected = detail === '' ? 'a known key' : `a known key (${detail})`;
  return `${path}: expected ${expected}, got unknown key ${JSON.stringify(key)} (${origin})`;
}

/** One line for the problem at `segments`, phrased from the schema node found there. */
function describe(segments: string[], ctx: Context): string {
  const path = segments.length === 0 ? '(root)' : segments.join('.');
  const origin = originOf(segments, ctx);
  let node: TSchema = ConfigSchema;
  for (const [i, segment] of segments.entries()) {
    const next = step(node, segment);
    if (next.kind === 'unknown-key' && i === segments.length - 1) {
      return unknownKeyProblem(path, segment, next.known, origin);
    }
    if (next.kind === 'bad-record-key') {
      const expected = annotations(next.record).expectedKey ?? 'a valid key';
      return `${path}: expected ${expected}, got ${JSON.stringify(segment)} (${origin})`;
    }
    if (next.kind !== 'node') break;
    node = next.schema;
  }
  const secret = annotations(node).secret === true || segments.some((s) => SECRET_KEYS.has(s));
  const value = getPath(ctx.merged, segments);
  const got = secret && value !== undefined ? JSON.stringify(REDACTED) : formatValue(value);
  const expected = annotations(node).expected ?? 'a valid value';
  return `${path}: expected ${expected}, got ${got} (${origin})`;
}

function validate(ctx: Context): string[] {
  const previous = Settings.Get().maxErrors;
  Settings.Set({ maxErrors: MAX_ERRORS });
  let errors: ReturnType<typeof Value.Errors>;
  try {
    errors = Value.Errors(ConfigSchema, ctx.merged);
  } finally {
    Settings.Set({ maxErrors: previous });
  }
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const error of errors) {
    const at = parsePointer(error.instancePath);
    let targets: string[][];
    if (error.keyword === 'required') {
      targets = error.params.requiredProperties.map((key) => [...at, key]);
    } else if (error.keyword === 'additionalProperties') {
      targets = error.params.additionalProperties.map((key) => [...at, key]);
    } else if (error.keyword === 'propertyNames') {
      targets = error.params.propertyNames.map((key) => [...at, key]);
    } else {
      targets = [at];
    }
    for (const target of targets) {
      const key = target.join('\u0000');
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push(describe(target, ctx));
    }
  }
  return problems;
}

/**
 * Command patterns whose program is a bare `*` (auth/command-policy.ts): each
 * would let its role run any program, which `exec: true` or `shell: true`
 * says outright. Looked for where the schema check cannot: inside a pattern.
 */
function commandPolicyProblems(ctx: Context): string[] {
  const roles = getPath(ctx.merged, ['api', 'server', 'security', 'roles']);
  if (!isPlainObject(roles)) return [];
  const problems: string[] = [];
  for (const [role, def] of Object.entries(roles)) {
    const commands = isPlainObject(def) ? def.commands : undefined;
    if (!isPlainObject(commands)) continue;
    for (const mode of ['exec', 'shell'] as const) {
      const patterns = commands[mode];
      if (!Array.isArray(patterns)) continue;
      patterns.forEach((pattern: unknown, i) => {
        if (typeof pattern !== 'string') return;
        const word = anyProgramWord(mode, pattern);
        if (word === undefined) return;
        const segments = ['api', 'server', 'security', 'roles', role, 'commands', mode, String(i)];
        problems.push(
          `${segments.join('.')}: role ${JSON.stringify(role)} has the ${mode} pattern ${JSON.stringify(pattern)}, where ${JSON.stringify(word)} stands for the program, so it would allow any program; name the program, or write ${mode}: true to allow any ${mode === 'exec' ? 'command' : 'line'} (${originOf(segments, ctx)})`,
        );
      });
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// state_dir.

function resolveStateDir(value: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir();
  if (value === '') {
    const xdg = env.XDG_STATE_HOME;
    // The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
    const base = xdg && isAbsolute(xdg) ? xdg : join(home, '.local', 'state');
    return join(base, 'osapi');
  }
  if (value === '~') return home;
  if (value.startsWith('~/')) return join(home, value.slice(2));
  return resolve(value);
}

// ---------------------------------------------------------------------------------------------

/**
 * Loads and validates the configuration. Precedence: overrides > env > file > default. Throws
 * ConfigError listing every problem (unknown keys, wrong types, ranges, durations, YAML syntax).
 */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const warnings: string[] = [];
  const file = resolveFile(opts, env, warnings);
  const merged: Json = structuredClone(file?.data ?? {});
  const explicit = new Set<string>();
  if (file !== undefined) collectFileLeaves(ConfigSchema, merged, '', explicit);
  const origins = new Map<string, Origin>();
  const ctx: Context = { merged, origins, file };
  const problems: string[] = [];

  for (const leaf of configKeys()) {
    const raw = env[leaf.env];
    // An empty variable counts as unset, so `OSAPI_X=` in a shell does not clear the file's value.
    if (raw === undefined || raw === '') continue;
    if (!setPath(merged, leaf.path, convertString(leaf, raw))) continue;
    origins.set(leaf.path, { kind: 'env', name: leaf.env });
    forgetFileLines(file?.lines, leaf.path);
    explicit.add(leaf.path);
  }
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('OSAPI_') || name === CONFIG_FILE_ENV || leafByEnv(name)) continue;
    const guess = closest(
      name,
      configKeys().map((k) => k.env),
    );
    warnings.push(
      `${name} does not match any configuration key and is ignored` +
        (guess === undefined ? '' : ` (did you mean ${guess}?)`),
    );
  }

  for (const [path, value] of Object.entries(opts.overrides ?? {})) {
    if (value === undefined) continue;
    const label = opts.overrideLabels?.[path] ?? 'override';
    const leaf = leafByPath(path);
    if (leaf === undefined) {
      const paths = configKeys().map((k) => k.path);
      problems.push(unknownKeyProblem(path, path, paths, `from ${label}`, false));
      continue;
    }
    const converted = typeof value === 'string' ? convertString(leaf, value) : value;
    if (!setPath(merged, path, converted)) continue;
    origins.set(path, { kind: 'override', label });
    forgetFileLines(file?.lines, path);
    explicit.add(path);
  }

  // Read off the file's own data: a secret given by env or a flag is not in the file.
  const fileSecrets = configKeys()
    .filter((leaf) => leaf.secret)
    .map((leaf) => leaf.path)
    .filter((path) => {
      const value = getPath(file?.data, path.split('.'));
      return value !== undefined && value !== null && value !== '';
    });

  Value.Default(ConfigSchema, merged);
  // Naming every problem walks the whole schema again: only for a config that has one. Each
  // command the CLI runs loads the config, so this is start-up time.
  if (problems.length > 0 || !Value.Check(ConfigSchema, merged)) problems.push(...validate(ctx));
  problems.push(...commandPolicyProblems(ctx));
  if (problems.length > 0) throw new ConfigError(problems);

  // Checked above: of Value.Decode's steps (clone, default, convert, clean, check, decode) only
  // the decoding (durations to ms) is left to do.
  const config = DecodeUnsafe({}, ConfigSchema, merged) as Config;
  config.state_dir = resolveStateDir(config.state_dir, env);
  return { config, file: file?.path ?? null, explicit, warnings, fileSecrets };
}

/** The defaults alone (no file, no env), e.g. as a base for tests. */
export function defaultConfig(): Config {
  return loadConfig({ env: {}, defaultFile: null }).config;
}
