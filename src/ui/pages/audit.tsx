// Audit: who asked for what, newest first, a hundred entries at a time;
// filter by user and response code among the entries loaded; export the
// whole log, or what the filter shows, as JSON lines.
import { useEffect, useState } from 'preact/hooks';
import type { AuditEntry } from '../../sdk/client.js';
import { CardsTable, ErrorNote, TextField, useSession } from '../components.js';
import { plural, when } from '../format.js';
import { describeError, isUnauthorized } from '../session.js';

const PAGE = 100;

/** "4xx" matches 400..499; "403" matches 403; empty matches all. */
function codeMatches(code: number, filter: string): boolean {
  if (!filter) return true;
  if (/^[1-5]xx$/.test(filter)) return Math.floor(code / 100) === Number(filter[0]);
  return String(code) === filter;
}

function download(name: string, entries: readonly AuditEntry[]): void {
  const blob = new Blob(
    entries.map((e) => `${JSON.stringify(e)}\n`),
    { type: 'application/x-ndjson' },
  );
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function AuditPage() {
  const { client, ended } = useSession();
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [user, setUser] = useState('');
  const [code, setCode] = useState('');
  const [changesOnly, setChangesOnly] = useState(false);

  const load = async (offset: number) => {
    setBusy(true);
    try {
      const { body } = await client.auditList({ limit: PAGE, offset });
      // Newer entries push older ones down meanwhile: an entry already shown is not shown twice.
      setEntries((prev) => {
        if (offset === 0) return body.items;
        const seen = new Set(prev.map((e) => e.id));
        return [...prev, ...body.items.filter((e) => !seen.has(e.id))];
      });
      setTotal(body.total_items);
      setError(null);
    } catch (err) {
      if (isUnauthorized(err)) return ended(err);
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    void load(0);
  }, []);

  const exportAll = async () => {
    setBusy(true);
    try {
      // The export is oldest first, as a log is read.
      const { body } = await client.request<{ total_items: number; items: AuditEntry[] }>(
        'GET',
        '/audit/export',
      );
      download(`osapi-audit-${new Date().toISOString().slice(0, 10)}.jsonl`, body.items);
    } catch (err) {
      if (isUnauthorized(err)) return ended(err);
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const u = user.trim().toLowerCase();
  const shown = entries.filter(
    (e) =>
      (!u || e.user.toLowerCase().includes(u)) &&
      codeMatches(e.response_code, code) &&
      (!changesOnly || e.method !== 'GET'),
  );
  const codes = [...new Set(entries.map((e) => e.response_code))].sort((a, b) => a - b);
  const filtered = Boolean(u || code || changesOnly);

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <div class="controls">
        <TextField
          id="audit-user"
          label="User"
          search
          value={user}
          onValue={setUser}
          placeholder="name or part of it"
        />
        <div class="field">
          <label for="audit-code">Response code</label>
          <select id="audit-code" value={code} onChange={(e) => setCode(e.currentTarget.value)}>
            <option value="">Any</option>
            <option value="2xx">2xx success</option>
            <option value="4xx">4xx refused</option>
            <option value="5xx">5xx failed</option>
            {codes.map((c) => (
              <option key={c} value={String(c)}>
                {c}
              </option>
            ))}
          </select>
        </div>
        <label class="check">
          <input
            type="checkbox"
            checked={changesOnly}
            onChange={(e) => setChangesOnly(e.currentTarget.checked)}
          />{' '}
          Hide reads (GET)
        </label>
        <button type="button" onClick={() => load(0)} disabled={busy}>
          Refresh
        </button>
        <button type="button" onClick={exportAll} disabled={busy}>
          Export all
        </button>
        <button
          type="button"
          onClick={() =>
            download(`osapi-audit-filtered-${new Date().toISOString().slice(0, 10)}.jsonl`, shown)
          }
          disabled={shown.length === 0}
        >
          Export shown
        </button>
      </div>
      <p class="lead" aria-live="polite">
        {total === null
          ? 'Loading…'
          : `${filtered ? `${plural(shown.length, 'entry', 'entries')} match among ` : ''}${plural(entries.length, 'entry', 'entries')} loaded of ${total}`}
      </p>
      <ErrorNote error={error} />
      <CardsTable
        caption="Audit entries, newest first"
        columns={['Time', 'User', 'Request', 'Code', 'Took', 'From']}
      >
        {shown.map((e) => (
          <tr key={e.id} class={e.response_code >= 400 ? 'refused' : undefined}>
            <td data-label="Time" class="time">
              <time dateTime={e.timestamp}>{when(e.timestamp)}</time>
            </td>
            <td data-label="User">
              {e.user || <span class="muted">no valid token</span>}
              {e.roles.length ? <span class="muted"> ({e.roles.join(', ')})</span> : null}
            </td>
            <td data-label="Request" class="wrap">
              <code>
                {e.method} {e.path}
              </code>
              {e.command ? (
                <div class="muted">
                  {e.target ? `on ${e.target}: ` : ''}
                  <code>{[e.command, ...(e.args ?? [])].join(' ')}</code>
                </div>
              ) : null}
            </td>
            <td data-label="Code" class="num">
              {e.response_code}
            </td>
            <td data-label="Took" class="num">
              {e.duration_ms} ms
            </td>
            <td data-label="From">{e.source_ip}</td>
          </tr>
        ))}
      </CardsTable>
      {total !== null && entries.length < total ? (
        <button type="button" onClick={() => load(entries.length)} disabled={busy}>
          Load {Math.min(PAGE, total - entries.length)} older
        </button>
      ) : null}
    </section>
  );
}
