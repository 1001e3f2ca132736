// A running job's output: lines as they come, each with its host in that
// host's colour (stderr marked), or hosts folded together by identical
// output; the hosts' states; a summary line; and Cancel.
import { useEffect, useRef, useState } from 'preact/hooks';
import { foldHosts } from '../format/hosts.js';
import { CANCEL_NEEDS } from './access.js';
import { Badge, ErrorNote, useAllowed, useSession } from './components.js';
import { type FollowView, followJob } from './follow.js';
import { plural, shortId } from './format.js';
import { HostsTable } from './hosts.js';
import { isFinal, jobHosts, summary } from './job.js';
import { groupOutputs, hostColours, type OutputLog } from './output.js';
import { href } from './router.js';
import { describeError, isUnauthorized } from './session.js';

export function useFollow(jobId: string): FollowView | null {
  const { client, ended } = useSession();
  const [view, setView] = useState<FollowView | null>(null);
  useEffect(() => {
    setView(null);
    return followJob(client, jobId, setView, {
      // Output as agents send it (GET /job/{id}/stream); states and results from the job.
      stream: (id, signal, lastEventId) =>
        client.streamJob(id, { signal, ...(lastEventId ? { lastEventId } : {}) }),
      onUnauthorized: ended,
    });
  }, [client, jobId, ended]);
  return view;
}

export function LiveJob({ jobId, expected }: { jobId: string; expected: readonly string[] }) {
  const { client, ended } = useSession();
  const view = useFollow(jobId);
  const cancelAllowed = useAllowed(CANCEL_NEEDS);
  const [grouped, setGrouped] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState<string | null>(null);
  const job = view?.job ?? null;
  const final = job ? isFinal(job) : false;
  const hosts = [...new Set([...expected, ...(job ? jobHosts(job) : [])])].sort();

  const cancel = async () => {
    setCancelling(true);
    setCancelError(null);
    try {
      await client.jobCancel(jobId);
    } catch (err) {
      if (isUnauthorized(err)) return ended(err);
      setCancelError(describeError(err));
    } finally {
      setCancelling(false);
    }
  };

  return (
    <section class="panel live" aria-labelledby="live-title">
      <div class="row">
        <h2 id="live-title">
          Job <a href={href('job', { id: jobId })}>{shortId(jobId)}</a>
        </h2>
        {job ? <Badge value={job.status} /> : null}
        <span class="spacer" />
        {final ? null : (
          <button
            type="button"
            class="danger"
            onClick={cancel}
            disabled={!cancelAllowed.ok || cancelling}
            title={
              cancelAllowed.ok ? 'Stop the command on every host' : `Cancel ${cancelAllowed.reason}`
            }
          >
            {cancelling ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
      </div>
      <p class="summary" role="status" data-testid="summary">
        {job
          ? summary(job)
          : `Sent to ${expected.length ? plural(expected.length, 'host') : 'one agent'}…`}
      </p>
      <ErrorNote error={cancelError ?? view?.error ?? null} />
      <HostsTable job={job} hosts={hosts} />
      <div class="row output-head">
        <h3>Output</h3>
        <span class="muted">
          {view?.live ? 'live' : final ? '' : 'each host’s output shows when it ends'}
        </span>
        <span class="spacer" />
        <label class="check">
          <input
            type="checkbox"
            checked={grouped}
            onChange={(e) => setGrouped(e.currentTarget.checked)}
          />{' '}
          Group identical output
        </label>
      </div>
      {view && view.missed > 0 ? (
        <p class="note">
          {plural(view.missed, 'piece')} of output could not be shown live; the job’s detail has
          every host’s output whole.
        </p>
      ) : null}
      {view ? (
        grouped ? (
          <GroupedOutput log={view.log} hosts={hosts} job={job} />
        ) : (
          <Lines log={view.log} hosts={hosts} version={view.version} final={final} />
        )
      ) : null}
    </section>
  );
}

function Lines(props: { log: OutputLog; hosts: string[]; version: number; final: boolean }) {
  const { log, hosts, version, final } = props;
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const colours = hostColours(hosts);
  const lines = log.lines();
  const width = Math.max(0, ...hosts.map((h) => h.length));
  // Follow the end while the reader is at it; leave them where they scrolled otherwise.
  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [version]);
  return (
    <>
      {log.dropped > 0 ? (
        <p class="note">
          The first {plural(log.dropped, 'line')} are not shown here; the job’s detail has them.
        </p>
      ) : null}
      <pre
        class="output"
        ref={box}
        data-testid="output"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {lines.length === 0 ? (
          <span class="muted">{final ? 'No output.' : 'No output yet.'}</span>
        ) : null}
        {lines.map((l, i) => (
          <span
            // Lines are only ever added at the end: the index is a stable key.
            key={i}
            class={`line h${colours.get(l.host) ?? 0}${l.stream === 'stderr' ? ' err' : ''}`}
          >
            <span class="host">{l.host.padEnd(width)}</span>
            {l.stream === 'stderr' ? <span class="tag">err</span> : null}
            {` ${l.text}\n`}
          </span>
        ))}
      </pre>
    </>
  );
}

function GroupedOutput({
  log,
  hosts,
  job,
}: {
  log: OutputLog;
  hosts: string[];
  job: FollowView['job'];
}) {
  const groups = groupOutputs(
    hosts.map((h) => ({
      host: h,
      ...log.text(h),
      state: job?.agent_states[h]?.status ?? 'pending',
    })),
  );
  return (
    <div class="groups" data-testid="grouped-output">
      {groups.map((g) => (
        <section class="group" key={g.hosts.join(',')}>
          <h4>
            {foldHosts(g.hosts)} <span class="muted">({plural(g.hosts.length, 'host')})</span>{' '}
            <Badge value={g.state} />
          </h4>
          <pre class="output">
            {g.stdout || g.stderr ? null : <span class="muted">no output</span>}
            {g.stdout}
            {g.stderr ? <span class="err">{g.stderr}</span> : null}
          </pre>
        </section>
      ))}
    </div>
  );
}
