// Jobs: newest first, filtered by status, a page at a time; each leads to
// its detail. The place (status, page) is in the URL, so Back returns to it.
import type { JobStatus } from '../../contract/states.js';
import { Badge, CardsTable, ErrorNote, Pager, useLoad, useSession } from '../components.js';
import { ago, shortId, tally, when } from '../format.js';
import { describeOperation, JOB_STATUS_LABELS, jobHosts } from '../job.js';
import { href } from '../router.js';

const LIMIT = 20;

function statusParam(v: string | null): JobStatus | undefined {
  return v !== null && v in JOB_STATUS_LABELS ? (v as JobStatus) : undefined;
}

export function JobsPage({ params }: { params: URLSearchParams }) {
  const { client } = useSession();
  const status = statusParam(params.get('status'));
  const offset = Math.max(0, Math.floor(Number(params.get('offset') ?? 0)) || 0);
  const list = useLoad(
    () =>
      client.jobList({ ...(status ? { status } : {}), limit: LIMIT, offset }).then((r) => r.body),
    [status, offset],
    5000,
  );
  const go = (p: { status?: string | undefined; offset?: number }) => {
    window.location.hash = href('jobs', { params: { status, offset: 0, ...p } }).slice(1);
  };

  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">Jobs</h1>
      <div class="controls">
        <div class="field">
          <label for="jobs-status">Status</label>
          <select
            id="jobs-status"
            value={status ?? ''}
            onChange={(e) => go({ status: e.currentTarget.value || undefined, offset: 0 })}
          >
            <option value="">Any</option>
            {Object.entries(JOB_STATUS_LABELS).map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </div>
      <ErrorNote error={list.error} />
      <CardsTable
        caption="Jobs, newest first"
        columns={['Job', 'Created', 'What', 'Target', 'Status', 'Hosts', 'By']}
      >
        {(list.data?.items ?? []).map((j) => {
          const op = describeOperation(j);
          const hosts = jobHosts(j);
          return (
            <tr key={j.id}>
              <th scope="row" data-label="Job">
                <a
                  href={href('job', { id: j.id })}
                  class="mono"
                  title={j.id}
                  aria-label={`Job ${j.id}`}
                >
                  {shortId(j.id)}
                </a>
              </th>
              <td data-label="Created" class="time" title={when(j.created)}>
                {ago(j.created)}
              </td>
              <td data-label="What" class="wrap">
                {op.mode ? <span class="muted">{op.mode} </span> : null}
                <code>{op.text}</code>
              </td>
              <td data-label="Target">
                <code>{j.target_hostname}</code>
              </td>
              <td data-label="Status">
                <Badge value={j.status} />
              </td>
              <td data-label="Hosts">
                {hosts.length === 0
                  ? '–'
                  : tally(hosts.map((h) => j.agent_states[h]?.status ?? 'pending'))}
              </td>
              <td data-label="By">{j.created_by}</td>
            </tr>
          );
        })}
      </CardsTable>
      {list.data && list.data.items.length === 0 ? (
        <p class="muted">
          No job{status ? ` is ${JOB_STATUS_LABELS[status].toLowerCase()}` : ' yet'}.
        </p>
      ) : null}
      {list.data ? (
        <Pager
          offset={offset}
          limit={LIMIT}
          total={list.data.total_items}
          onPage={(o) => go({ offset: o })}
        />
      ) : null}
    </section>
  );
}
