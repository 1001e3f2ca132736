// What the CLI shows people of what agents wrote (registry entries, results,
// live output) never carries a terminal control: tables and single-line
// fields escape every control, newlines included; output printed as lines
// (`--group`, `--follow`) keeps newlines and tabs and escapes the rest; --json
// is left as the API sent it. First the formatting functions, then the
// compiled CLI against a stand-in API server that answers hostile fields.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeCell, escapeLine, escapeText } from '../../src/cli/escape.js';
import { followLine } from '../../src/cli/follow.js';
import { groupedText, summaryLine } from '../../src/cli/group-output.js';
import { hostnameTable } from '../../src/cli/node-output.js';
import { agentTable, commandTable, jobDetailText } from '../../src/cli/output.js';
import type { AgentInfo, CommandResponse, JobDetail } from '../../src/sdk/client.js';
import { childEnv, cleanup, runOsapi, tempDir } from './helpers.js';

afterAll(cleanup, 30_000);

const ESC = '\x1b';
// Clears the screen, retitles the window (OSC ... BEL), a C1 CSI, DEL, NUL, a bidi override.
const HOSTILE = `web${ESC}[2J${ESC}]0;pwned\x07\x9b31m\x7f\x00\u202e01`;

/** Every character a terminal acts on, but newline and tab where `keep` says. */
function controls(text: string, keep = ''): string[] {
  const found: string[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    const unsafe =
      c < 0x20 ||
      (c >= 0x7f && c <= 0x9f) ||
      c === 0x2028 ||
      c === 0x2029 ||
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069);
    if (unsafe && !keep.includes(ch)) found.push(`U+${c.toString(16).padStart(4, '0')}`);
  }
  return found;
}

function agent(hostname: string): AgentInfo {
  return {
    hostname,
    status: 'Ready',
    labels: { [`g${ESC}[1m`]: `web${ESC}[0m` },
    os_info: { distribution: `debian${ESC}]0;x\x07`, version: '12' },
    load_average: { '1min': 0.1, '5min': 0, '15min': 0 },
    memory: { total: 1024, free: 512, used: 512 },
    uptime: `1h${ESC}[1A`,
    heartbeat_age_s: 1,
  } as unknown as AgentInfo;
}

function result(over: Partial<CommandResponse['results'][number]> = {}) {
  return {
    hostname: HOSTILE,
    stdout: `line one\r\n${ESC}[2Kfake: 0 failed\ttab\n`,
    stderr: `warn${ESC}[31m\n`,
    exit_code: 1,
    duration_ms: 12,
    changed: false,
    status: 'completed',
    state: 'failed',
    stdout_truncated: false,
    stderr_truncated: false,
    ...over,
  } as CommandResponse['results'][number];
}

describe('the escaping functions', () => {
  it('escapeLine escapes every control, newline and tab too, and leaves text alone', () => {
    expect(escapeLine('plain text, ü and 日本')).toBe('plain text, ü and 日本');
    expect(escapeLine(`a${ESC}[31mb\n\tc\r\x07\x7f\x9b\u202e`)).toBe(
      'a\\e[31mb\\n\\tc\\r\\x07\\x7f\\x9b\\u202e',
    );
    expect(controls(escapeLine(HOSTILE))).toEqual([]);
  });

  it('escapeCell keeps newlines; escapeText keeps newlines and tabs; a CRLF is a newline', () => {
    expect(escapeCell('a\tb\r\nc\rd\n')).toBe('a\\tb\nc\\rd\n');
    expect(escapeText(`a\tb\r\nc${ESC}[1Ad\n`)).toBe('a\tb\nc\\e[1Ad\n');
    expect(followLine('progress 50%\rprogress 100%\r')).toBe('progress 50%\\rprogress 100%');
  });

  it('tables: agent list, command results, node answers, a job', () => {
    const outputs = [
      agentTable([agent(HOSTILE)]),
      commandTable({ job_id: `j${ESC}[1m`, results: [result()] } as CommandResponse),
      hostnameTable({
        job_id: 'j',
        results: [
          {
            hostname: HOSTILE,
            status: 'completed',
            labels: { k: `v${ESC}[1m` },
            os_hostname: HOSTILE,
          },
        ],
      } as never),
      jobDetailText({
        id: 'j',
        status: 'failed',
        created: 'now',
        updated_at: 'now',
        hostname: HOSTILE,
        operation: { type: 'command.exec.execute', data: { command: `x${ESC}[1m` } },
        result: null,
        error: `boom${ESC}[2J`,
        created_by: `mallory${ESC}]0;x\x07`,
        target_hostname: HOSTILE,
        responses: {
          [HOSTILE]: { status: 'completed', data: { stdout: `${ESC}[2J` }, hostname: HOSTILE },
        },
        agent_states: { [HOSTILE]: { status: 'failed', error: `e${ESC}[1m` } },
        timeline: [{ timestamp: 't', event: 'failed', hostname: HOSTILE, message: `m${ESC}[1m` }],
      } as unknown as JobDetail),
    ];
    for (const out of outputs) {
      // Newlines are the table's own lines; no field brings any control of its own.
      expect(controls(out, '\n')).toEqual([]);
      expect(out).toContain('\\e[');
    }
    // A hostname is one line in its cell, however it is spelt.
    expect(agentTable([agent('a\nb')])).toContain('a\\nb');
  });

  it('--group blocks and the summary line', () => {
    const body = {
      job_id: 'j',
      results: [result(), result({ hostname: 'db-01' })],
    } as CommandResponse;
    const text = groupedText(body);
    expect(controls(text, '\n\t')).toEqual([]);
    // Output keeps its lines and tabs, minus what would act on the terminal.
    expect(text).toContain('line one\n\\e[2Kfake: 0 failed\ttab\n');
    const summary = summaryLine([result({ error: `no${ESC}[2K` })]);
    expect(controls(summary)).toEqual([]);
  });
});

describe('through the CLI, against a stand-in API', () => {
  let server: Server;
  let url = '';
  const stream = [
    {
      event: 'output',
      data: { hostname: HOSTILE, stream: 'stdout', data: `hello${ESC}[2K\r\n${ESC}]0;x\x07bye\n` },
    },
    { event: 'output', data: { hostname: HOSTILE, stream: 'stderr', data: `oops\x9b1m\n` } },
    {
      event: 'result',
      data: { hostname: HOSTILE, status: 'completed', exit_code: 0, state: 'succeeded' },
    },
    { event: 'end', data: { status: 'completed' } },
  ];

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.startsWith('/agent')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ agents: [agent(HOSTILE)], total: 1 }));
      } else if (req.method === 'POST' && req.url?.startsWith('/node/')) {
        req.resume();
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ job_id: 'j1', results: [], expected_hosts: [HOSTILE] }));
      } else if (req.method === 'GET' && req.url === '/job/j1/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(
          stream
            .map((e, i) => `event: ${e.event}\nid: t-${i}\ndata: ${JSON.stringify(e.data)}\n\n`)
            .join(''),
        );
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'no', code: 404, reason: 'not_found' }));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  const env = () => childEnv(tempDir(), { OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: 'stand-in' });

  it('agent list: a table without controls; -j: the fields as they were', async () => {
    const table = await runOsapi(['client', '--url', url, 'agent', 'list'], { env: env() });
    expect(table.code).toBe(0);
    expect(controls(table.stdout, '\n')).toEqual([]);
    expect(controls(table.stderr, '\n')).toEqual([]);
    expect(table.stdout).toContain('\\e[2J\\e]0;pwned\\x07');

    const json = await runOsapi(['client', '--url', url, 'agent', 'list', '-j'], { env: env() });
    expect(JSON.parse(json.stdout).agents[0].hostname).toBe(HOSTILE);
  });

  it('--follow lines: host and output escaped, newlines kept', async () => {
    const r = await runOsapi(
      [
        'client',
        '--url',
        url,
        'node',
        'command',
        'exec',
        '--command',
        'x',
        '-T',
        'web',
        '--follow',
      ],
      { env: env() },
    );
    expect(r.code).toBe(0);
    expect(controls(r.stdout, '\n')).toEqual([]);
    expect(controls(r.stderr, '\n')).toEqual([]);
    const host = escapeLine(HOSTILE);
    expect(r.stdout).toContain(`${host}: hello\\e[2K\n${host}: \\e]0;x\\x07bye\n`);
    expect(r.stderr).toContain(`${host}: oops\\x9b1m\n`);
  });
});
