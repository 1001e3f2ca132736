// An operation's answer, one row per host: its status (ok, failed, skipped,
// no answer; a query's completed; a file's in-sync, drifted, missing),
// whether a change changed it, the error, and the result's own fields.
// Nested lists (services, packages, users, disks) fold into an inner table.
import type { OperationAnswerBody } from '../contract/answers.js';
import type { OperationDeclaration } from '../contract/operations.js';
import { Badge, CardsTable } from './components.js';
import { plural } from './format.js';
import { keysOf, resultColumns } from './operation-answer.js';

type Item = OperationAnswerBody['results'][number];

/** Inner tables show this many rows at most; the host page filters a long list. */
export const INNER_ROWS_MAX = 500;

/** Values up to this long are not broken across lines. */
const SHORT = 24;

function isPlain(v: unknown): v is string | number | boolean | null | undefined {
  return v === null || v === undefined || ['string', 'number', 'boolean'].includes(typeof v);
}

function plainText(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

/** A list of objects as a table, its columns from its rows. */
export function RowsTable({
  rows,
  caption,
  columns,
  max = INNER_ROWS_MAX,
}: {
  rows: readonly unknown[];
  caption: string;
  columns?: readonly string[];
  max?: number;
}) {
  const cols = columns ?? keysOf(rows);
  const shown = rows.slice(0, max);
  return (
    <>
      <CardsTable caption={caption} class="inner" columns={cols}>
        {shown.map((r, i) => {
          const row = (r ?? {}) as Record<string, unknown>;
          return (
            <tr key={i}>
              {cols.map((c) => (
                <td key={c} data-label={c} class="wrap">
                  <FieldValue value={row[c]} name={c} />
                </td>
              ))}
            </tr>
          );
        })}
      </CardsTable>
      {rows.length > shown.length ? (
        <p class="muted">
          The first {shown.length} of {rows.length} are shown.
        </p>
      ) : null}
    </>
  );
}

/** One field's value: text, a list, name/value pairs, or an inner table behind a summary. */
export function FieldValue({ value, name }: { value: unknown; name: string }) {
  if (isPlain(value)) {
    const text = plainText(value);
    // A short word or number stays whole; a digest or a path may break anywhere.
    return text.length <= SHORT ? <span class="nobr">{text}</span> : text;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return <span class="muted">none</span>;
    if (value.every(isPlain)) return <>{value.map(plainText).join(', ')}</>;
    return (
      <details>
        <summary>{plural(value.length, name.replace(/s$/, ''), name)}</summary>
        <RowsTable rows={value} caption={name} />
      </details>
    );
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return <span class="muted">none</span>;
  return (
    <dl class="kv">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>
            <FieldValue value={v} name={k} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function OperationResults({
  decl,
  body,
}: {
  decl: OperationDeclaration;
  body: OperationAnswerBody;
}) {
  const fields = resultColumns(decl);
  const change = decl.answer === 'change';
  const columns = ['Host', 'Status', ...(change ? ['Changed'] : []), 'Error', ...fields];
  const byHost = [...body.results].sort((a, b) => a.hostname.localeCompare(b.hostname));
  return (
    <CardsTable caption="Result per host" class="op-results" columns={columns}>
      {byHost.map((r: Item) => (
        <tr key={r.hostname} data-host={r.hostname}>
          <th scope="row" data-label="Host" class="nobr">
            {r.hostname}
          </th>
          <td data-label="Status" data-testid="op-status">
            <Badge value={r.status} />
          </td>
          {change ? (
            <td data-label="Changed" data-testid="op-changed">
              {r.changed === true ? 'yes' : 'no'}
            </td>
          ) : null}
          <td data-label="Error" class="wrap">
            {r.error ?? ''}
          </td>
          {fields.map((f) => (
            <td key={f} data-label={f} class="wrap">
              <FieldValue value={r[f]} name={f} />
            </td>
          ))}
        </tr>
      ))}
    </CardsTable>
  );
}
