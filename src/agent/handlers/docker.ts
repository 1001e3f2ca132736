// Docker containers and images on the agent, through the Docker Engine API on
// its unix socket (agent.docker.socket, /var/run/docker.sock by default). No
// docker CLI runs: every value goes into a JSON body or a URL-encoded path or
// query, never a command line. A host where no daemon answers on the socket
// answers `skipped`. A change is idempotent where the Engine says so (a start
// of a running container, a stop of a stopped one: 304) or where the thing
// to remove is gone already; a create with a name finds the container it
// made before.
import { TIMEOUT_DEFAULT_S } from '../../contract/command.js';
import type { DockerDetailResult, DockerExecData, DockerSummary } from '../../contract/docker.js';
import { errorText } from '../../exec/errno.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import {
  DEFAULT_DOCKER_SOCKET,
  type EngineAnswer,
  EngineUnreachable,
  engineCall,
  engineExecStream,
  engineMessage,
} from './docker-engine.js';
import type { HandlerContext } from './types.js';

/** How long one call to the daemon may take, besides a stop's wait and a pull. */
const CALL_TIMEOUT_MS = 50_000;
/** A pull downloads layers: up to the operation's own 600 s, less a margin. */
const PULL_TIMEOUT_MS = 590_000;
/** Room for the daemon beyond a stop's own wait (the kill, the container's end). */
const STOP_MARGIN_MS = 20_000;
const DEFAULT_STOP_WAIT_S = 10;

type DockerOp =
  | 'docker.container.create'
  | 'docker.container.list'
  | 'docker.container.get'
  | 'docker.container.remove'
  | 'docker.container.start'
  | 'docker.container.stop'
  | 'docker.container.exec'
  | 'docker.image.remove'
  | 'docker.image.pull';

function socketOf(ctx: HandlerContext): string {
  return ctx.host?.dockerSocket ?? DEFAULT_DOCKER_SOCKET;
}

type Call = (
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  opts?: { query?: Record<string, string>; body?: unknown; timeoutMs?: number },
) => Promise<EngineAnswer>;

function callerFor(ctx: HandlerContext): Call {
  const socket = socketOf(ctx);
  return (method, path, opts = {}) =>
    engineCall(socket, {
      method,
      path,
      ...(opts.query ? { query: opts.query } : {}),
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      signal: ctx.signal,
      timeoutMs: opts.timeoutMs ?? CALL_TIMEOUT_MS,
    });
}

/**
 * A docker handler: no daemon on the socket is `skipped`, any other failure
 * to reach it a sentence.
 */
function dockerHandler<T extends DockerOp>(type: T, run: Parameters<typeof nodeHandler<T>>[1]) {
  return nodeHandler(type, async (data, ctx): Promise<NodeOutcome<T>> => {
    try {
      return await run(data, ctx);
    } catch (err) {
      if (err instanceof EngineUnreachable) return { unsupported: err.message };
      return failed(errorText(err));
    }
  });
}

const seg = (s: string) => encodeURIComponent(s);

const nameOf = (names: unknown): string => {
  const first = Array.isArray(names) ? names[0] : names;
  return typeof first === 'string' ? first.replace(/^\//, '') : '';
};

/** An answer the Engine gives when it did not do what was asked. */
function refused(what: string, answer: EngineAnswer): { ok: false; error: string } {
  return failed(`${what}: ${engineMessage(answer)}`);
}

const noContainer = (id: string) =>
  `no container "${id}" on this host (by id or name): list them with docker.container.list`;

interface InspectedContainer {
  Id: string;
  Name: string;
  Created: string;
  Path?: string;
  Args?: string[];
  State: { Status: string; Running: boolean; Health?: { Status?: string } };
  Config: { Image: string; Env?: string[] | null };
  HostConfig: {
    NetworkMode?: string;
    RestartPolicy?: { Name?: string };
    PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
  };
  Mounts?: Array<{ Source?: string; Name?: string; Destination: string; RW?: boolean }>;
  NetworkSettings?: {
    Networks?: Record<string, { IPAddress?: string; Gateway?: string; MacAddress?: string }>;
  };
}

function summaryOf(c: InspectedContainer): DockerSummary {
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    image: c.Config.Image,
    state: c.State.Status,
    created: c.Created,
  };
}

/** `8080:80/tcp`, with the host address first where the binding has one. */
function portsOf(c: InspectedContainer): string[] {
  const out: string[] = [];
  for (const [port, bindings] of Object.entries(c.HostConfig.PortBindings ?? {})) {
    for (const b of bindings ?? []) {
      out.push(`${b.HostIp ? `${b.HostIp}:` : ''}${b.HostPort ?? ''}:${port}`);
    }
  }
  return out;
}

function detailOf(c: InspectedContainer): DockerDetailResult {
  const networks: Record<string, unknown> = {};
  for (const [name, n] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
    networks[name] = {
      ip_address: n.IPAddress ?? '',
      gateway: n.Gateway ?? '',
      mac_address: n.MacAddress ?? '',
    };
  }
  const health = c.State.Health?.Status;
  return {
    ...summaryOf(c),
    ports: portsOf(c),
    mounts: (c.Mounts ?? []).map(
      (m) => `${m.Source || m.Name || ''}:${m.Destination}${m.RW === false ? ':ro' : ''}`,
    ),
    env: c.Config.Env ?? [],
    network_settings: { network_mode: c.HostConfig.NetworkMode ?? '', networks },
    ...(health ? { health } : {}),
    restart_policy: c.HostConfig.RestartPolicy?.Name || 'no',
    command: [...(c.Path ? [c.Path] : []), ...(c.Args ?? [])],
  };
}

/** The container, or null when the host has none by that id or name. */
async function inspect(call: Call, id: string): Promise<InspectedContainer | null> {
  const answer = await call('GET', `/containers/${seg(id)}/json`);
  if (answer.status === 404) return null;
  if (answer.status !== 200) throw new Error(`cannot inspect ${id}: ${engineMessage(answer)}`);
  return answer.body as InspectedContainer;
}

export const dockerListHandler = dockerHandler('docker.container.list', async (data, ctx) => {
  const state = data.state ?? 'all';
  const query: Record<string, string> = { all: state === 'running' ? 'false' : 'true' };
  if (state === 'stopped') {
    query.filters = JSON.stringify({ status: ['created', 'exited', 'dead'] });
  }
  if (data.limit !== undefined) query.limit = String(data.limit);
  const answer = await callerFor(ctx)('GET', '/containers/json', { query });
  if (answer.status !== 200) return refused('cannot list the containers', answer);
  const rows = answer.body as Array<{
    Id: string;
    Names?: string[];
    Image: string;
    State: string;
    Created: number;
  }>;
  return {
    ok: true,
    result: {
      containers: rows.map((r) => ({
        id: r.Id,
        name: nameOf(r.Names),
        image: r.Image,
        state: r.State,
        created: new Date(r.Created * 1000).toISOString(),
      })),
    },
  };
});

export const dockerGetHandler = dockerHandler('docker.container.get', async (data, ctx) => {
  const c = await inspect(callerFor(ctx), data.id);
  if (!c) return failed(noContainer(data.id));
  return { ok: true, result: detailOf(c) };
});

/** `8080:80/tcp` → the Engine's ExposedPorts and PortBindings. */
function portBindings(ports: readonly string[]) {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) {
    const [spec, proto = 'tcp'] = p.split('/') as [string, string?];
    const parts = spec.split(':');
    const containerPort = parts.pop() as string;
    const hostPort = parts.pop() as string;
    const hostIp = parts.pop() ?? '';
    const key = `${Number(containerPort)}/${proto}`;
    exposed[key] = {};
    const binding = { HostIp: hostIp, HostPort: String(Number(hostPort)) };
    bindings[key] = [...(bindings[key] ?? []), binding];
  }
  return { exposed, bindings };
}

export const dockerCreateHandler = dockerHandler('docker.container.create', async (data, ctx) => {
  const call = callerFor(ctx);
  const autoStart = data.auto_start !== false;
  if (data.name !== undefined) {
    const existing = await inspect(call, data.name);
    if (existing) {
      if (existing.Config.Image !== data.image) {
        return failed(
          `a container named "${data.name}" exists already with the image ${existing.Config.Image}, not ${data.image}: remove it first (docker.container.remove) or choose another name`,
        );
      }
      if (!autoStart || existing.State.Running) {
        return { ok: true, result: { ...summaryOf(existing), changed: false } };
      }
      const started = await call('POST', `/containers/${seg(existing.Id)}/start`);
      if (started.status !== 204 && started.status !== 304) {
        return refused(`cannot start the existing container "${data.name}"`, started);
      }
      const now = (await inspect(call, existing.Id)) ?? existing;
      return { ok: true, result: { ...summaryOf(now), changed: started.status === 204 } };
    }
  }
  const { exposed, bindings } = portBindings(data.ports ?? []);
  const body = {
    Image: data.image,
    ...(data.hostname !== undefined ? { Hostname: data.hostname } : {}),
    ...(data.command !== undefined && data.command.length > 0 ? { Cmd: data.command } : {}),
    ...(data.env !== undefined ? { Env: data.env } : {}),
    ExposedPorts: exposed,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    HostConfig: {
      PortBindings: bindings,
      Binds: data.volumes ?? [],
      ...(data.dns !== undefined ? { Dns: data.dns } : {}),
      RestartPolicy: { Name: data.restart_policy ?? 'no' },
    },
  };
  const created = await call('POST', '/containers/create', {
    ...(data.name !== undefined ? { query: { name: data.name } } : {}),
    body,
  });
  if (created.status === 404) {
    return failed(
      `the image ${data.image} is not on this host: pull it first (docker.image.pull), or import it (${engineMessage(created)})`,
    );
  }
  if (created.status !== 201)
    return refused('the Docker daemon refused to create the container', created);
  const id = (created.body as { Id: string }).Id;
  if (autoStart) {
    const started = await call('POST', `/containers/${seg(id)}/start`);
    if (started.status !== 204 && started.status !== 304) {
      // Leave the host as it was: a container that would not start is not kept.
      const removed = await call('DELETE', `/containers/${seg(id)}`, {
        query: { force: 'true', v: 'true' },
      });
      const left =
        removed.status === 204 || removed.status === 404
          ? 'it was removed again'
          : `it could not be removed again (${engineMessage(removed)}): remove ${id} by hand`;
      return {
        ok: false,
        error: `the container was created but would not start (${engineMessage(started)}); ${left}`,
        ...(removed.status === 204 || removed.status === 404 ? {} : { changed: true }),
      };
    }
  }
  const c = await inspect(call, id);
  if (!c) return failed(`the container ${id} was created but is gone again`);
  return { ok: true, result: { ...summaryOf(c), changed: true } };
});

/** Start or stop: 204 done, 304 it was already so, 404 no such container. */
async function lifecycle(
  ctx: HandlerContext,
  id: string,
  verb: 'start' | 'stop',
  query: Record<string, string>,
  timeoutMs: number,
) {
  const answer = await callerFor(ctx)('POST', `/containers/${seg(id)}/${verb}`, {
    query,
    timeoutMs,
  });
  if (answer.status === 404) return failed(noContainer(id));
  if (answer.status === 304) {
    return {
      ok: true as const,
      result: {
        id,
        message: verb === 'start' ? 'already running' : 'already stopped',
        changed: false,
      },
    };
  }
  if (answer.status !== 204) return refused(`cannot ${verb} ${id}`, answer);
  return {
    ok: true as const,
    result: { id, message: verb === 'start' ? 'started' : 'stopped', changed: true },
  };
}

export const dockerStartHandler = dockerHandler('docker.container.start', (data, ctx) =>
  lifecycle(ctx, data.id, 'start', {}, CALL_TIMEOUT_MS),
);

export const dockerStopHandler = dockerHandler('docker.container.stop', (data, ctx) => {
  const wait = data.stop_timeout ?? DEFAULT_STOP_WAIT_S;
  return lifecycle(ctx, data.id, 'stop', { t: String(wait) }, wait * 1000 + STOP_MARGIN_MS);
});

export const dockerRemoveHandler = dockerHandler('docker.container.remove', async (data, ctx) => {
  const answer = await callerFor(ctx)('DELETE', `/containers/${seg(data.id)}`, {
    query: { force: data.force === true ? 'true' : 'false' },
  });
  if (answer.status === 404) {
    return {
      ok: true,
      result: { id: data.id, message: 'no such container: nothing to remove', changed: false },
    };
  }
  if (answer.status === 409) {
    return refused(`cannot remove ${data.id} (stop it first, or ask with force)`, answer);
  }
  if (answer.status !== 204) return refused(`cannot remove ${data.id}`, answer);
  return { ok: true, result: { id: data.id, message: 'removed', changed: true } };
});

export const dockerImageRemoveHandler = dockerHandler('docker.image.remove', async (data, ctx) => {
  const answer = await callerFor(ctx)('DELETE', `/images/${seg(data.image)}`, {
    query: { force: data.force === true ? 'true' : 'false' },
  });
  if (answer.status === 404) {
    return {
      ok: true,
      result: { id: data.image, message: 'no such image: nothing to remove', changed: false },
    };
  }
  if (answer.status === 409) {
    return refused(
      `cannot remove the image ${data.image} (containers use it: remove them, or ask with force)`,
      answer,
    );
  }
  if (answer.status !== 200) return refused(`cannot remove the image ${data.image}`, answer);
  const items = (answer.body as Array<{ Deleted?: string; Untagged?: string }>) ?? [];
  const deleted = items.find((i) => i.Deleted)?.Deleted;
  return {
    ok: true,
    result: {
      id: deleted ?? data.image,
      message: deleted ? 'deleted' : 'untagged',
      changed: true,
    },
  };
});

/** The tag a reference names: after the last ':' of its last path part; `latest` when none. */
export function tagOf(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(at + 1);
  const last = image.slice(image.lastIndexOf('/') + 1);
  const colon = last.lastIndexOf(':');
  return colon >= 0 ? last.slice(colon + 1) : 'latest';
}

async function imageOf(call: Call, image: string): Promise<{ Id: string; Size: number } | null> {
  const answer = await call('GET', `/images/${seg(image)}/json`);
  if (answer.status === 404) return null;
  if (answer.status !== 200)
    throw new Error(`cannot inspect the image ${image}: ${engineMessage(answer)}`);
  return answer.body as { Id: string; Size: number };
}

/** The error a pull's progress stream ends with, if it ends with one. */
function pullStreamError(body: unknown): string | null {
  const text = typeof body === 'string' ? body : body === null ? '' : JSON.stringify(body);
  for (const line of text.split('\n').reverse()) {
    try {
      const item = JSON.parse(line) as { error?: unknown; errorDetail?: { message?: unknown } };
      const message = item.errorDetail?.message ?? item.error;
      if (typeof message === 'string') return message;
    } catch {
      // A progress line cut short: not an error line.
    }
  }
  return null;
}

export const dockerPullHandler = dockerHandler('docker.image.pull', async (data, ctx) => {
  const call = callerFor(ctx);
  const before = await imageOf(call, data.image);
  const answer = await call('POST', '/images/create', {
    query: {
      fromImage: data.image,
      ...(data.image.includes('@') ? {} : { tag: tagOf(data.image) }),
    },
    timeoutMs: PULL_TIMEOUT_MS,
  });
  if (answer.status !== 200) return refused(`cannot pull ${data.image}`, answer);
  const streamError = pullStreamError(answer.body);
  if (streamError) return failed(`cannot pull ${data.image}: ${streamError}`);
  const after = await imageOf(call, data.image);
  if (!after) return failed(`the pull of ${data.image} ended, but the host has no such image`);
  return {
    ok: true,
    result: {
      image_id: after.Id,
      tag: tagOf(data.image),
      size: after.Size,
      changed: before?.Id !== after.Id,
    },
  };
});

/**
 * Kills what an exec runs, by the host pid the daemon reports (the Engine has
 * no call for it). Asked on a signal of its own: it runs when the job's own
 * was aborted too.
 */
async function killExec(socket: string, execId: string): Promise<void> {
  try {
    const answer = await engineCall(socket, {
      method: 'GET',
      path: `/exec/${seg(execId)}/json`,
      signal: new AbortController().signal,
      timeoutMs: 5_000,
    });
    const exec = answer.body as { Pid?: unknown; Running?: unknown } | null;
    const pid = exec?.Pid;
    // Only while the daemon says it runs: an exec that ended left a pid the
    // kernel may already have given another process.
    if (answer.status === 200 && exec?.Running === true && typeof pid === 'number' && pid > 1) {
      process.kill(pid, 'SIGKILL');
    }
  } catch {
    // Ended on its own meanwhile, or the daemon is gone: nothing left to kill.
  }
}

/** Why an exec was ended before it finished, as the person who asked reads it. */
function endedEarly(why: 'timeout' | 'cancelled', timeoutS: number, ctx: HandlerContext) {
  const reason: unknown = ctx.signal.reason;
  return {
    ok: false as const,
    error:
      why === 'timeout'
        ? `the command ran past its ${timeoutS} s timeout and was killed`
        : typeof reason === 'string'
          ? reason
          : 'cancelled: the agent was stopped while the command ran; it was killed',
    changed: true,
  };
}

async function runExec(
  data: DockerExecData,
  ctx: HandlerContext,
): Promise<NodeOutcome<'docker.container.exec'>> {
  const call = callerFor(ctx);
  const socket = socketOf(ctx);
  const created = await call('POST', `/containers/${seg(data.id)}/exec`, {
    body: {
      Cmd: data.command,
      ...(data.env !== undefined ? { Env: data.env } : {}),
      ...(data.working_dir !== undefined ? { WorkingDir: data.working_dir } : {}),
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    },
  });
  if (created.status === 404) return failed(noContainer(data.id));
  if (created.status !== 201) return refused(`cannot run a command in ${data.id}`, created);
  const execId = (created.body as { Id: string }).Id;
  const timeoutS = data.timeout ?? TIMEOUT_DEFAULT_S;
  // Past its time, or when the job is cancelled or the agent stops, the
  // command is killed first, then the stream is let go.
  const stream = new AbortController();
  let ended: 'timeout' | 'cancelled' | null = null;
  const end = (why: 'timeout' | 'cancelled') => {
    if (ended) return;
    ended = why;
    void killExec(socket, execId).finally(() => stream.abort());
  };
  const deadline = setTimeout(() => end('timeout'), timeoutS * 1000);
  const onAbort = () => end('cancelled');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let streamed: Awaited<ReturnType<typeof engineExecStream>>;
  try {
    streamed = await engineExecStream(
      socket,
      {
        method: 'POST',
        path: `/exec/${seg(execId)}/start`,
        body: { Detach: false, Tty: false },
        signal: stream.signal,
        // A bound of its own, should the kill not end the stream.
        timeoutMs: timeoutS * 1000 + 10_000,
      },
      ctx.maxOutputBytes,
    );
  } catch (err) {
    if (ended) return endedEarly(ended, timeoutS, ctx);
    throw err;
  } finally {
    clearTimeout(deadline);
    ctx.signal.removeEventListener('abort', onAbort);
  }
  if (ended) return endedEarly(ended, timeoutS, ctx);
  if (streamed.error !== undefined) {
    return failed(`cannot run a command in ${data.id}: ${streamed.error}`);
  }
  const inspected = await call('GET', `/exec/${seg(execId)}/json`);
  const exitCode = (inspected.body as { ExitCode?: unknown } | null)?.ExitCode;
  const out = streamed.output;
  return {
    ok: true,
    result: {
      stdout: out.stdout,
      stderr: out.stderr,
      exit_code: typeof exitCode === 'number' ? exitCode : -1,
      stdout_truncated: out.stdoutTruncated,
      stderr_truncated: out.stderrTruncated,
      changed: true,
    },
  };
}

export const dockerExecHandler = dockerHandler('docker.container.exec', runExec);
