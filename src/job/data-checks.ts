// Checks of an operation's job data: its declared schema (src/contract/
// operations.ts), then what a schema cannot say (addresses, names), so the
// API refuses bad input with a 400 naming the field and the agent refuses a
// job whose data is bad whoever published it.
import { isIP } from 'node:net';
import { type TSchema, Type } from 'typebox';
import { cronScheduleProblem } from '../contract/cron.js';
import { type DockerCreateData, PORT_EXPECTED, VOLUME_EXPECTED } from '../contract/docker.js';
import { type LogQueryData, logRangeProblem } from '../contract/log.js';
import type { DnsDeleteData } from '../contract/network.js';
import {
  type DnsUpdateData,
  INTERFACE_EXPECTED,
  INTERFACE_NAME_PATTERN,
  type PingData,
} from '../contract/node-operations.js';
import { NTP_SERVER_EXPECTED } from '../contract/ntp.js';
import {
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
  operationData,
  secretFields,
} from '../contract/operations.js';
import { DEB_PATH_EXPECTED, type PackageInstallData } from '../contract/package.js';
import { HASHED_PASSWORD_MAX_BYTES } from '../contract/password-hash.js';
import { patternMessage } from '../contract/pattern-messages.js';
import { type ProcessSignalData, SIGNAL_EXPECTED, signalNumber } from '../contract/process.js';
import { serviceNameProblem } from '../contract/services.js';
import { eachString, factRefProblems, hasFactRefs } from './fact-refs.js';
import { networkDataProblems } from './network-checks.js';
import { validatorOf } from './schema-check.js';
import { accountDataProblems } from './user-checks.js';

const INTERFACE_NAME_RE = new RegExp(INTERFACE_NAME_PATTERN);

export interface DataProblem {
  /** The field at fault, as a dotted path inside the data (`address`), or '' for the whole. */
  field: string;
  message: string;
}

/** True for a literal IPv4 or IPv6 address, without a zone (`%eth0`) or brackets. */
export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0 && !s.includes('%');
}

export function isInterfaceName(s: string): boolean {
  return INTERFACE_NAME_RE.test(s);
}

const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** A hostname as RFC 1123 has it: dot-separated labels of letters, digits and inner '-'. */
export function isDnsName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => DNS_LABEL.test(l));
}

export const ADDRESS_EXPECTED =
  'must be an IPv4 or IPv6 address (e.g. 127.0.0.1 or ::1), not a hostname';
export const SEARCH_DOMAIN_EXPECTED =
  "must be a hostname: labels of letters, digits and inner '-' joined by dots (e.g. corp.example)";

/** `servers.0` → `servers[0]`: the form the API's own validation messages use. */
export function fieldPath(segments: string[]): string {
  return segments
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
}

/** What the DNS update's schema cannot say: addresses, hostnames, and one list at least. */
function dnsUpdateProblems(data: DnsUpdateData): DataProblem[] {
  const problems: DataProblem[] = [];
  if (!isInterfaceName(data.interface_name)) {
    problems.push({ field: 'interface_name', message: INTERFACE_EXPECTED });
  }
  const list = (
    name: 'servers' | 'search_domains',
    ok: (s: string) => boolean,
    expected: string,
  ) => {
    const first = new Map<string, number>();
    (data[name] ?? []).forEach((v, i) => {
      const key = v.toLowerCase();
      if (!ok(v)) problems.push({ field: `${name}[${i}]`, message: expected });
      else if (first.has(key)) {
        problems.push({ field: `${name}[${i}]`, message: `repeats ${name}[${first.get(key)}]` });
      } else first.set(key, i);
    });
  };
  list('servers', isIpAddress, ADDRESS_EXPECTED);
  list('search_domains', isDnsName, SEARCH_DOMAIN_EXPECTED);
  if (data.servers === undefined && data.search_domains === undefined) {
    problems.push(
      { field: 'servers', message: 'is required when search_domains is absent' },
      { field: 'search_domains', message: 'is required when servers is absent' },
    );
  }
  return problems.slice(0, 10);
}

/** A service operation's name, where it takes one: a service name, nothing a tool reads as an option. */
function serviceProblems(data: unknown): DataProblem[] {
  const name = (data as { name?: unknown }).name;
  if (typeof name !== 'string') return [];
  const problem = serviceNameProblem(name);
  return problem ? [{ field: 'name', message: problem }] : [];
}

/** A cron entry's schedule: a valid one, given once (schedule or interval), and no template without an object. */
function cronProblems(type: OperationType, data: unknown): DataProblem[] {
  const d = data as {
    schedule?: string;
    interval?: string;
    user?: string;
    object?: string;
    content_type?: string;
    vars?: unknown;
  };
  const problems: DataProblem[] = [];
  if (d.schedule !== undefined) {
    const problem = cronScheduleProblem(d.schedule);
    if (problem) problems.push({ field: 'schedule', message: problem });
  }
  if (d.schedule !== undefined && d.interval !== undefined) {
    problems.push({
      field: 'interval',
      message: 'cannot be given with schedule: give one of them',
    });
  }
  if (d.interval !== undefined && d.user !== undefined && d.user !== 'root') {
    problems.push({
      field: 'user',
      message: `must be root with interval: run-parts runs /etc/cron.${d.interval} as root; give a schedule (e.g. @${d.interval}) to run as ${d.user}`,
    });
  }
  if (type === 'cron.create' && d.schedule === undefined && d.interval === undefined) {
    problems.push({ field: 'schedule', message: 'is required when interval is absent' });
  }
  if (type === 'cron.update' && d.object === undefined) {
    for (const field of ['content_type', 'vars'] as const) {
      if (d[field] !== undefined) {
        problems.push({ field, message: 'needs object: it says how to read the object' });
      }
    }
  }
  return problems;
}

/** Each server an address or a hostname (nothing chrony's file could read as more), none twice. */
function ntpProblems(data: { servers: string[] }): DataProblem[] {
  const problems: DataProblem[] = [];
  const first = new Map<string, number>();
  data.servers.forEach((s, i) => {
    const key = s.toLowerCase();
    if (!isIpAddress(s) && !isDnsName(s)) {
      problems.push({ field: `servers[${i}]`, message: NTP_SERVER_EXPECTED });
    } else if (first.has(key)) {
      problems.push({ field: `servers[${i}]`, message: `repeats servers[${first.get(key)}]` });
    } else first.set(key, i);
  });
  return problems.slice(0, 10);
}

/**
 * A .deb file's path as the agent will hand it to apt or dpkg: absolute, one
 * meaning only (no `.`, `..` or empty segments, no control characters), and
 * a .deb.
 */
export function isDebPath(s: string): boolean {
  if (!s.startsWith('/') || !s.endsWith('.deb')) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(s)) return false;
  const segments = s.slice(1).split('/');
  return (
    segments.every((seg) => seg !== '' && seg !== '.' && seg !== '..') && segments.at(-1) !== '.deb'
  );
}

/** Each field a schema refuses, once, named as the API names it (`servers[0]`). */
function schemaProblems(schema: TSchema, value: unknown): DataProblem[] {
  const check = validatorOf(schema);
  if (check.Check(value)) return [];
  const seen = new Set<string>();
  return [...check.Errors(value)]
    .map((e) => {
      const params = e.params as Record<string, unknown>;
      const path = fieldPath(e.instancePath.split('/'));
      if (params.requiredProperties !== undefined) {
        return {
          field: [path, String(params.requiredProperties)].filter(Boolean).join('.'),
          message: 'is required',
        };
      }
      if (params.additionalProperties !== undefined || e.message === 'schema is false') {
        const extra = params.additionalProperties ?? '';
        return {
          field: [path, String(extra)].filter(Boolean).join('.'),
          message: 'is not a known field',
        };
      }
      const hint = e.keyword === 'pattern' ? patternMessage(params.pattern) : undefined;
      return { field: path, message: hint ?? e.message };
    })
    .filter((p) => !seen.has(p.field) && seen.add(p.field))
    .slice(0, 10);
}

/**
 * Why a path is not one a host operation takes, or null: absolute,
 * normalised (no `.`/`..` segments, no `//`, no trailing `/`), no control
 * characters, not `/` itself.
 */
export function hostPathProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'must be an absolute path';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'must not hold control characters';
  if (path === '/' || path.endsWith('/')) return 'must name a file, not end with /';
  if (path.includes('//') || path.split('/').some((seg) => seg === '.' || seg === '..')) {
    return "must be normalised: no '.', '..' or empty segments";
  }
  return null;
}

/** A port is 1 to 65535; a mount's paths have one meaning; a DNS server is an address. */
function dockerCreateProblems(data: DockerCreateData): DataProblem[] {
  const problems: DataProblem[] = [];
  (data.ports ?? []).forEach((p, i) => {
    const numbers = p.split('/')[0]?.split(':').slice(-2).map(Number) ?? [];
    if (numbers.some((n) => !(n >= 1 && n <= 65535))) {
      problems.push({ field: `ports[${i}]`, message: PORT_EXPECTED });
    }
  });
  (data.volumes ?? []).forEach((v, i) => {
    const paths = v.split(':').filter((part) => part.startsWith('/'));
    const unclean = paths.some(
      (path) => path.split('/').some((seg) => seg === '.' || seg === '..') || path.includes('//'),
    );
    if (unclean) problems.push({ field: `volumes[${i}]`, message: VOLUME_EXPECTED });
  });
  (data.dns ?? []).forEach((d, i) => {
    if (!isIpAddress(d)) problems.push({ field: `dns[${i}]`, message: ADDRESS_EXPECTED });
  });
  return problems;
}

/** What no schema says: an address that is an address, one DNS list at least, a service's name. */
export function meaningProblems(type: OperationType, data: unknown): DataProblem[] {
  if (type === 'file.deploy' || type === 'file.undeploy' || type === 'file.status') {
    const problem = hostPathProblem((data as { path: string }).path);
    return problem ? [{ field: 'path', message: problem }] : [];
  }
  if (type === 'network.ping.do' && !isIpAddress((data as PingData).address)) {
    return [{ field: 'address', message: ADDRESS_EXPECTED }];
  }
  if (type === 'network.dns.update') return dnsUpdateProblems(data as DnsUpdateData);
  if (type === 'network.dns.delete' && !isInterfaceName((data as DnsDeleteData).interface_name)) {
    return [{ field: 'interface_name', message: INTERFACE_EXPECTED }];
  }
  if (type.startsWith('network.interface.') || type.startsWith('network.route.')) {
    return networkDataProblems(type, data);
  }
  if (type === 'process.signal' && signalNumber((data as ProcessSignalData).signal) === null) {
    return [{ field: 'signal', message: SIGNAL_EXPECTED }];
  }
  if (OPERATIONS[type].permission.startsWith('service:')) return serviceProblems(data);
  if (type === 'cron.create' || type === 'cron.update') return cronProblems(type, data);
  if (type === 'docker.container.create') return dockerCreateProblems(data as DockerCreateData);
  if (type === 'log.list' || type === 'log.unit.list') {
    const problem = logRangeProblem(data as LogQueryData);
    return problem ? [{ field: 'until', message: problem }] : [];
  }
  if (type === 'ntp.create' || type === 'ntp.update')
    return ntpProblems(data as { servers: string[] });
  if (type === 'package.install') {
    const path = (data as PackageInstallData).path;
    if (path !== undefined && !isDebPath(path))
      return [{ field: 'path', message: DEB_PATH_EXPECTED }];
  }
  return accountDataProblems(type, data);
}

/** Most levels of arrays and objects within each other that data may have. */
export const DATA_DEPTH_MAX = 32;

/**
 * Data nested deeper than DATA_DEPTH_MAX, named by its top field, or null.
 * Every later walk over data (fact references, digests, signing, JSON
 * itself) recurses, and a body of 200,000 `[` would overflow the stack on
 * any of them; this one walks with a list of its own, and stops at the
 * first level too deep.
 */
export function depthProblem(data: unknown): DataProblem | null {
  const pending: Array<{ value: unknown; depth: number; top: string }> = [
    { value: data, depth: 1, top: '' },
  ];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, depth, top } = next;
    if (value === null || typeof value !== 'object') continue;
    if (depth > DATA_DEPTH_MAX) {
      return {
        field: top,
        message: `nests arrays and objects more than ${DATA_DEPTH_MAX} levels deep; flatten it`,
      };
    }
    for (const [k, v] of Object.entries(value)) {
      pending.push({ value: v, depth: depth + 1, top: top || fieldPath([k]) });
    }
  }
  return null;
}

/**
 * Everything wrong with an operation's job data, schema and meaning alike, so
 * the API refuses it with a 400 naming the field and the agent refuses it too.
 */
export function operationDataProblems(type: OperationType, data: unknown): DataProblem[] {
  return dataProblemsBy(OPERATIONS[type].data, type, data);
}

function dataProblemsBy(schema: TSchema, type: OperationType, data: unknown): DataProblem[] {
  const deep = depthProblem(data);
  if (deep) return [deep];
  const problems = schemaProblems(schema, data);
  return problems.length > 0 ? problems : meaningProblems(type, data);
}

/** Each operation's data schema as a request makes it: without the digest the API adds later. */
const requestSchemas = new Map<OperationType, TSchema>();

/**
 * The data's problems before the API has added what it looks up (a named
 * object's digest, `object_sha256`): what a request can get wrong itself.
 */
export function requestDataProblems(type: OperationType, data: unknown): DataProblem[] {
  let schema = requestSchemas.get(type);
  if (!schema) {
    const decl: OperationDeclaration = OPERATIONS[type];
    schema = decl.object ? Type.Omit(decl.data, ['object_sha256']) : decl.data;
    requestSchemas.set(type, schema);
  }
  return dataProblemsBy(schema, type, data);
}

export const PASSWORD_BYTES_EXPECTED = `must be at most ${HASHED_PASSWORD_MAX_BYTES} bytes in UTF-8, the longest password a host's crypt(3) takes`;

/**
 * Each secret field (a password) the input has, checked against its own
 * schema and, since each is hashed, its length in bytes; before anything
 * hashes it (operationData), and never quoting it.
 */
export function secretProblems(type: OperationType, input: unknown): DataProblem[] {
  if (input === null || typeof input !== 'object') return [];
  const props = OPERATIONS[type].input.properties as Record<string, TSchema>;
  return secretFields(type).flatMap((name) => {
    const value = (input as Record<string, unknown>)[name];
    const schema = props[name];
    if (value === undefined || !schema) return [];
    const problems = schemaProblems(schema, value).map((p) => ({
      field: [name, p.field].filter(Boolean).join('.'),
      message: p.message,
    }));
    if (problems.length === 0 && Buffer.byteLength(String(value)) > HASHED_PASSWORD_MAX_BYTES) {
      return [{ field: name, message: PASSWORD_BYTES_EXPECTED }];
    }
    return problems;
  });
}

/** The same for what a request carries (its rate control included), before it becomes data. */
export function operationInputProblems(type: OperationType, input: unknown): DataProblem[] {
  const deep = depthProblem(input);
  if (deep) return [deep];
  // A secret's own problems first: they are never deferred (withFactRefs),
  // and would not be told if ten others came before them.
  const secrets = secretProblems(type, input);
  if (secrets.length > 0) return secrets;
  const problems = schemaProblems(OPERATIONS[type].input, input);
  if (problems.length > 0) return problems;
  return requestDataProblems(type, operationData(type, input as never));
}

/**
 * Problems as the API and the CLI see them, where data may hold `@fact.`
 * references: each reference must be well formed, and a field that holds
 * one is left to each agent, which checks it again with its own value in
 * place (agent.ts withFacts, then the handler's check). Every other problem
 * stands. A secret field (a password, operations.ts secretFields) is
 * literal: `@fact.` in it is text, so it is not read for references, its
 * checks (its length first) always stand, and no message quotes it. Data
 * nested too deep is refused before it is walked at all.
 */
export function withFactRefs(
  type: OperationType,
  problems: DataProblem[],
  data: unknown,
): DataProblem[] {
  const deep = depthProblem(data);
  if (deep) return [deep];
  const scanned = withoutFields(data, secretFields(type));
  if (!hasFactRefs(scanned)) return problems;
  const malformed = factRefProblems(scanned).map((p) => ({
    field: fieldPath(p.path.map(String)),
    message: p.message,
  }));
  if (malformed.length > 0) return malformed;
  const deferred = new Set<string>();
  eachString(scanned, [], (value, path) => {
    if (value.includes('@fact.')) deferred.add(fieldPath(path.map(String)));
  });
  return problems.filter((p) => !deferred.has(p.field));
}

/** `data` without the top fields `names` (a copy when it has any of them). */
function withoutFields(data: unknown, names: readonly string[]): unknown {
  if (names.length === 0 || data === null || typeof data !== 'object' || Array.isArray(data)) {
    return data;
  }
  const copy: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const name of names) delete copy[name];
  return copy;
}
