// Run: a command on a target (exec or shell, arguments, working directory,
// timeout, rate control), a confirmation naming how many hosts will run it,
// then the job live: output per host, states, summary and Cancel.
import { useRef, useState } from 'preact/hooks';
import type { AgentInfo } from '../../sdk/client.js';
import { Confirm, ErrorNote, TextField, useAllowed, useSession } from '../components.js';
import { plural } from '../format.js';
import { LiveJob } from '../live-output.js';
import { type RunFields, type RunRequest, runRequest } from '../run-form.js';
import { describeError, isUnauthorized } from '../session.js';
import { MatchNote, useTargetMatch } from '../target.js';

type Ready = Extract<RunRequest, { ok: true }>;

interface Pending {
  request: Ready;
  target: string;
  /** The agents it would reach, or null when the token may not list agents. */
  agents: AgentInfo[] | null;
  /** One key per confirmation: pressing Run twice makes one job. */
  idempotencyKey: string;
}

const EMPTY: RunFields = {
  mode: 'shell',
  command: '',
  args: '',
  cwd: '',
  timeout: '',
  maxConcurrency: '',
  maxErrors: '',
};

export function RunPage() {
  const { client, ended } = useSession();
  const canList = useAllowed(['agent:read']);
  const [fields, setFields] = useState<RunFields>(EMPTY);
  const [target, setTarget] = useState('_any');
  const [error, setError] = useState<{ field?: keyof RunFields | 'target'; text: string } | null>(
    null,
  );
  const [pending, setPending] = useState<Pending | null>(null);
  const [started, setStarted] = useState<{ jobId: string; hosts: string[] } | null>(null);
  const [busy, setBusy] = useState(false);
  const match = useTargetMatch(target);
  const form = useRef<HTMLFormElement>(null);
  const set = (k: keyof RunFields) => (value: string) => setFields({ ...fields, [k]: value });

  const review = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const t = target.trim();
    if (!t)
      return setError({
        field: 'target',
        text: 'Choose a target: _any, _all, a host or key:value.',
      });
    const request = runRequest(fields);
    if (!request.ok) return setError({ field: request.field, text: request.error });
    let agents: AgentInfo[] | null = null;
    if (canList.ok) {
      setBusy(true);
      try {
        agents = (await client.agentList(t)).body.agents;
      } catch (err) {
        if (isUnauthorized(err)) return ended(err);
        return setError({ field: 'target', text: describeError(err) });
      } finally {
        setBusy(false);
      }
    }
    setPending({ request, target: t, agents, idempotencyKey: crypto.randomUUID() });
  };

  const run = async () => {
    if (!pending) return;
    const { request, target: t, idempotencyKey } = pending;
    setBusy(true);
    try {
      const opts = { async: true, idempotencyKey };
      const { body } =
        request.mode === 'exec'
          ? await client.commandExec(t, request.body, opts)
          : await client.commandShell(t, request.body, opts);
      setStarted({ jobId: body.job_id, hosts: body.expected_hosts ?? [] });
      setPending(null);
    } catch (err) {
      if (isUnauthorized(err)) return ended(err);
      setPending(null);
      setError({ text: describeError(err) });
    } finally {
      setBusy(false);
    }
  };

  const invalid = (k: keyof RunFields | 'target') => (error?.field === k ? true : undefined);
  /** A text field's value, its setter and its error mark, from `fields`. */
  const bound = (k: Exclude<keyof RunFields, 'mode'>) => ({
    value: fields[k],
    onValue: set(k),
    invalid: invalid(k),
  });
  const count = pending?.agents?.length ?? null;
  const hostsWord =
    pending === null
      ? ''
      : pending.target === '_any'
        ? 'one host'
        : count === null
          ? pending.target
          : plural(count, 'host');

  return (
    <section aria-labelledby="run-title">
      <h1 id="run-title">Run a command</h1>
      <form ref={form} class="panel run-form" onSubmit={review} noValidate>
        <TextField
          id="run-target"
          label="Target"
          value={target}
          onValue={setTarget}
          literal
          describedBy="run-match"
          invalid={invalid('target')}
        >
          <MatchNote match={match} id="run-match" />
        </TextField>
        <fieldset class="modes">
          <legend>How</legend>
          {(['shell', 'exec'] as const).map((m) => (
            <label key={m} class="check">
              <input
                type="radio"
                name="mode"
                value={m}
                checked={fields.mode === m}
                onChange={() => setFields({ ...fields, mode: m })}
              />{' '}
              {m === 'shell' ? 'shell (/bin/sh -c)' : 'exec (program and arguments, no shell)'}
            </label>
          ))}
        </fieldset>
        <div class="field wide">
          <label for="run-command">{fields.mode === 'shell' ? 'Command line' : 'Program'}</label>
          <input
            id="run-command"
            class="mono"
            value={fields.command}
            onInput={(e) => set('command')(e.currentTarget.value)}
            spellcheck={false}
            autoComplete="off"
            placeholder={fields.mode === 'shell' ? 'uptime; df -h /' : 'uname'}
            aria-invalid={invalid('command')}
          />
        </div>
        {fields.mode === 'exec' ? (
          <div class="field wide">
            <label for="run-args">Arguments, one per line</label>
            <textarea
              id="run-args"
              class="mono"
              rows={3}
              value={fields.args}
              onInput={(e) => set('args')(e.currentTarget.value)}
              spellcheck={false}
            />
          </div>
        ) : null}
        <details>
          <summary>Working directory, timeout, rate control</summary>
          <div class="grid">
            <TextField id="run-cwd" label="Working directory" class="mono" {...bound('cwd')} />
            <TextField
              id="run-timeout"
              label="Timeout (s, 1–300)"
              inputMode="numeric"
              placeholder="30"
              {...bound('timeout')}
            />
            <TextField
              id="run-mc"
              label="Max concurrency"
              placeholder="all at once; 2 or 10%"
              {...bound('maxConcurrency')}
            />
            <TextField
              id="run-me"
              label="Max errors"
              placeholder="no limit; 0 or 5%"
              {...bound('maxErrors')}
            />
          </div>
        </details>
        <ErrorNote error={error?.text ?? null} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Run…
          </button>
        </div>
      </form>

      <Confirm
        open={pending !== null}
        title={count === 0 ? 'No agent would run it' : `Run on ${hostsWord}?`}
        {...(count === 0 ? {} : { confirmLabel: busy ? 'Starting…' : `Run on ${hostsWord}` })}
        onConfirm={run}
        onCancel={() => setPending(null)}
      >
        {pending ? <ConfirmText pending={pending} /> : null}
      </Confirm>

      {started ? (
        <LiveJob key={started.jobId} jobId={started.jobId} expected={started.hosts} />
      ) : null}
    </section>
  );
}

function ConfirmText({ pending }: { pending: Pending }) {
  const { request, target, agents } = pending;
  const line =
    request.mode === 'exec'
      ? [request.body.command, ...(request.body.args ?? [])].join(' ')
      : request.body.command;
  return (
    <>
      <p>
        {request.mode} <code class="cmd">{line}</code>
      </p>
      {agents === null ? (
        <p>
          on <code>{target}</code> (how many hosts that is cannot be shown: listing agents needs
          agent:read).
        </p>
      ) : agents.length === 0 ? (
        <p>No Ready agent matches {target}: nothing would run.</p>
      ) : target === '_any' ? (
        <p>
          on one of {plural(agents.length, 'Ready agent')}:{' '}
          {agents.map((a) => a.hostname).join(', ')}.
        </p>
      ) : (
        <p>
          on {plural(agents.length, 'host')}: {agents.map((a) => a.hostname).join(', ')}.
        </p>
      )}
    </>
  );
}
