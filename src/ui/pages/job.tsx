// One job: what ran where and by whom, each host's state and its whole
// stdout and stderr (with copy), the timeline of events, and Retry (and
// Cancel while it runs). Read again every second until nothing can change.
import { useState } from 'preact/hooks';
import { CANCEL_NEEDS, retryNeeds } from '../access.js';
import {
  Badge,
  CopyButton,
  ErrorNote,
  TextField,
  useAllowed,
  useLoad,
  useSession,
} from '../components.js';
import { ago, plural, when } from '../format.js';
import { HostsTable } from '../hosts.js';
import { commandResult, describeOperation, isFinal, jobHosts, summary } from '../job.js';
import { href } from '../router.js';
import { describeError, isUnauthorized } from '../session.js';

export function JobPage({ id }: { id: string }) {
  const { client, ended } = useSession();
  const [final, setFinal] = useState(false);
  const detail = useLoad(
    () =>
      client.jobGet(id).then((r) => {
        setFinal(isFinal(r.body));
        return r.body;
      }),
    [id],
    final ? undefined : 2000,
  );
  const job = detail.data;
  const retryAllowed = useAllowed(job ? retryNeeds(job.operation.type) : ['job:write']);
  const cancelAllowed = useAllowed(CANCEL_NEEDS);
  const [retryTarget, setRetryTarget] = useState('');
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const act = async (what: () => Promise<void>) => {
    setBusy(true);
    setActionError(null);
    try {
      await what();
    } catch (err) {
      if (isUnauthorized(err)) return ended(err);
      setActionError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const retry = () =>
    act(async () => {
      const t = retryTarget.trim();
      const { body } = await client.jobRetry(id, t || undefined);
      window.location.hash = href('job', { id: body.job_id }).slice(1);
    });
  const cancel = () =>
    act(async () => {
      await client.jobCancel(id);
      setFinal(false);
      detail.reload();
    });

  if (!job) {
    return (
      <section>
        <h1>Job {id}</h1>
        <ErrorNote error={detail.error} />
        {detail.loading ? <p class="muted">Loading…</p> : null}
        <p>
          <a href={href('jobs')}>All jobs</a>
        </p>
      </section>
    );
  }

  const op = describeOperation(job);
  const hosts = jobHosts(job);
  const running = !isFinal(job);
  return (
    <section aria-labelledby="job-title">
      <p class="crumbs">
        <a href={href('jobs')}>Jobs</a> /
      </p>
      <div class="row">
        <h1 id="job-title" class="mono">
          {job.id}
        </h1>
        <CopyButton text={job.id} label="Copy the job id" />
      </div>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <Badge value={job.status} /> <span data-testid="summary">{summary(job)}</span>
        </dd>
        <dt>What</dt>
        <dd>
          {op.mode ? `${op.mode} ` : ''}
          <code>{op.text}</code>
        </dd>
        <dt>Target</dt>
        <dd>
          <code>{job.target_hostname}</code>
        </dd>
        <dt>By</dt>
        <dd>{job.created_by}</dd>
        <dt>Created</dt>
        <dd title={job.created}>
          {when(job.created)} ({ago(job.created)})
        </dd>
        <dt>Updated</dt>
        <dd title={job.updated_at}>{when(job.updated_at)}</dd>
      </dl>
      {job.error ? <p class="error">{job.error}</p> : null}

      <div class="panel actions-panel">
        <TextField
          id="retry-target"
          label="Retry on"
          placeholder={job.target_hostname}
          value={retryTarget}
          onValue={setRetryTarget}
          disabled={!retryAllowed.ok}
          literal
        />
        <button
          type="button"
          onClick={retry}
          disabled={!retryAllowed.ok || busy}
          title={
            retryAllowed.ok
              ? 'Run the same operation again, as a new job'
              : `Retry ${retryAllowed.reason}`
          }
        >
          Retry
        </button>
        {running ? (
          <button
            type="button"
            class="danger"
            onClick={cancel}
            disabled={!cancelAllowed.ok || busy}
            title={cancelAllowed.ok ? 'Stop it on every host' : `Cancel ${cancelAllowed.reason}`}
          >
            Cancel
          </button>
        ) : null}
        {!retryAllowed.ok ? <p class="muted">Retry {retryAllowed.reason}.</p> : null}
      </div>
      <ErrorNote error={actionError ?? detail.error} />

      <h2>Hosts</h2>
      <HostsTable job={job} hosts={hosts} />

      <h2>Output</h2>
      {hosts.map((h) => {
        const r = commandResult(job, h);
        const data = job.responses[h]?.data;
        return (
          <section class="result" key={h} aria-labelledby={`out-${h}`}>
            <h3 id={`out-${h}`}>
              {h} <Badge value={job.agent_states[h]?.status ?? 'pending'} />
            </h3>
            {r ? (
              <>
                <Stream name="stdout" host={h} text={r.stdout} truncated={r.stdout_truncated} />
                <Stream name="stderr" host={h} text={r.stderr} truncated={r.stderr_truncated} />
              </>
            ) : data !== undefined && data !== null ? (
              <Stream
                name="result"
                host={h}
                text={JSON.stringify(data, null, 2)}
                truncated={false}
              />
            ) : (
              <p class="muted">No result yet.</p>
            )}
          </section>
        );
      })}

      <h2>Timeline</h2>
      <ol class="timeline">
        {job.timeline.map((e, i) => (
          // Events never reorder: the index is a stable key.
          <li key={i}>
            <time dateTime={e.timestamp}>{when(e.timestamp)}</time> <strong>{e.event}</strong>{' '}
            {e.hostname ? <span>{e.hostname}</span> : null}
            {e.message ? <span class="muted"> — {e.message}</span> : null}
            {e.error ? <span class="error-text"> — {e.error}</span> : null}
          </li>
        ))}
      </ol>
      <p class="muted">{plural(job.timeline.length, 'event')}</p>
    </section>
  );
}

function Stream(props: { name: string; host: string; text: string; truncated: boolean }) {
  const { name, host, text, truncated } = props;
  return (
    <div class="stream">
      <div class="row">
        <h4>{name}</h4>
        <span class="muted">{text ? plural(text.length, 'character') : 'empty'}</span>
        <span class="spacer" />
        {text ? <CopyButton text={text} label={`Copy ${name} of ${host}`} /> : null}
      </div>
      {text ? (
        <pre class={`output${name === 'stderr' ? ' err' : ''}`} data-testid={`${name}-${host}`}>
          {text}
        </pre>
      ) : null}
      {truncated ? (
        <p class="note">The agent capped this stream: what is above is its beginning.</p>
      ) : null}
    </div>
  );
}
