// One host: its agent (state, OS, labels, uptime), a way to the Operations
// page aimed at it, and its services, packages and users, each read on
// demand by its list operation (service.list, package.list, user.list) and
// shown as a table with a filter. A section appears only for an operation
// that is declared.
import { useState } from 'preact/hooks';
import type { OperationAnswerBody } from '../../contract/answers.js';
import type { OperationOptions, OsapiResponse } from '../../sdk/client.js';
import { Badge, ErrorNote, TextField, useAllowed, useLoad, useSession } from '../components.js';
import { age, plural } from '../format.js';
import { type HostRead, hostReads, rowMatches } from '../host-reads.js';
import { RowsTable } from '../operation-result.js';
import { href } from '../router.js';
import { describeError, isUnauthorized } from '../session.js';

export function HostPage({ hostname }: { hostname: string }) {
  const { client } = useSession();
  const agent = useLoad(() => client.agentGet(hostname).then((r) => r.body), [hostname]);
  const a = agent.data;
  return (
    <section aria-labelledby="host-title">
      <p class="crumbs">
        <a href={href('fleet')}>Fleet</a>
      </p>
      <div class="row">
        <h1 id="host-title">{hostname}</h1>
        {a ? <Badge value={a.status} /> : null}
        {a ? <Badge value={a.state} /> : null}
        <span class="spacer" />
        <a href={href('operations', { params: { target: hostname } })}>Operations on this host</a>
      </div>
      <ErrorNote error={agent.error} />
      {a ? (
        <dl class="facts">
          <dt>OS</dt>
          <dd>
            {a.os_info.distribution} {a.os_info.version}
          </dd>
          <dt>Labels</dt>
          <dd>
            {Object.entries(a.labels).map(([k, v]) => (
              <span class="chip" key={k}>
                {k}:{v}
              </span>
            ))}
          </dd>
          <dt>Uptime</dt>
          <dd>{a.uptime}</dd>
          <dt>Heartbeat</dt>
          <dd>{age(a.heartbeat_age_s)} ago</dd>
          <dt>Agent</dt>
          <dd>{a.version}</dd>
        </dl>
      ) : agent.loading ? (
        <p class="muted">Loading…</p>
      ) : null}
      {hostReads().map((read) => (
        <HostReadSection key={read.type} hostname={hostname} read={read} />
      ))}
    </section>
  );
}

type Loaded =
  | { kind: 'rows'; rows: unknown[] }
  | { kind: 'refused'; status: string; error: string };

/** `client.call` for an operation chosen at run time. */
type AnyCall = (
  type: string,
  target: string,
  input: Record<string, unknown>,
  opts: OperationOptions,
) => Promise<OsapiResponse<unknown>>;

function HostReadSection({ hostname, read }: { hostname: string; read: HostRead }) {
  const { client, ended } = useSession();
  const allowed = useAllowed([read.decl.permission]);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [filter, setFilter] = useState('');
  const id = `host-${read.listField}`;
  const what = read.title.toLowerCase();

  const load = async () => {
    setBusy(true);
    setError(null);
    try {
      const call = client.call.bind(client) as unknown as AnyCall;
      const { body } = await call(read.type, hostname, {}, {});
      const items = (body as OperationAnswerBody).results;
      const item = items.find((r) => r.hostname === hostname) ?? items[0];
      if (!item) setLoaded({ kind: 'refused', status: 'no_answer', error: 'No agent answered.' });
      else if (item.status === 'ok' || item.status === 'completed') {
        const rows = item[read.listField];
        setLoaded({ kind: 'rows', rows: Array.isArray(rows) ? rows : [] });
      } else {
        setLoaded({ kind: 'refused', status: item.status, error: item.error ?? '' });
      }
    } catch (err) {
      if (isUnauthorized(err)) return ended(err);
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const rows = loaded?.kind === 'rows' ? loaded.rows.filter((r) => rowMatches(r, filter)) : [];
  return (
    <section aria-labelledby={`${id}-title`} class="panel host-read" data-testid={id}>
      <div class="row">
        <h2 id={`${id}-title`}>{read.title}</h2>
        <span class="muted">
          <code>{read.type}</code>
        </span>
        <span class="spacer" />
        <button
          type="button"
          disabled={busy || !allowed.ok}
          title={allowed.ok ? undefined : `${read.title} ${allowed.reason}`}
          onClick={load}
        >
          {busy ? 'Reading…' : loaded ? `Read ${what} again` : `Read ${what}`}
        </button>
      </div>
      {allowed.ok ? null : (
        <p class="muted">
          Not available: reading {what} {allowed.reason}.
        </p>
      )}
      <ErrorNote error={error} />
      {loaded?.kind === 'refused' ? (
        <p>
          <Badge value={loaded.status} /> {loaded.error}
        </p>
      ) : null}
      {loaded?.kind === 'rows' ? (
        <>
          <div class="controls">
            <TextField
              id={`${id}-filter`}
              label={`Filter ${what}`}
              search
              value={filter}
              onValue={setFilter}
            />
            <p class="muted" aria-live="polite" data-testid={`${id}-count`}>
              {filter.trim()
                ? `${rows.length} of ${plural(loaded.rows.length, what.replace(/s$/, ''), what)}`
                : plural(loaded.rows.length, what.replace(/s$/, ''), what)}
            </p>
          </div>
          {rows.length > 0 ? (
            <RowsTable
              rows={rows}
              caption={read.title}
              {...(read.columns.length > 0 ? { columns: read.columns } : {})}
            />
          ) : null}
        </>
      ) : null}
    </section>
  );
}
