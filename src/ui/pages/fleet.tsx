// Fleet: every agent with its state, heartbeat age, labels, OS, load, memory
// and uptime, refreshed every few seconds; a filter by name or label, and the
// agents a target would reach, live as it is typed. With agent:write, an
// agent waiting for its key to be accepted can be accepted or rejected, and
// one taking jobs drained (or undrained). A host's name leads to its page.
import { useState } from 'preact/hooks';
import { humanBytes, percent } from '../../format/units.js';
import type { AgentInfo } from '../../sdk/client.js';
import { AGENT_WRITE_NEEDS } from '../access.js';
import {
  Badge,
  CardsTable,
  ErrorNote,
  TextField,
  useAllowed,
  useLoad,
  useSession,
} from '../components.js';
import { age, plural } from '../format.js';
import { href } from '../router.js';
import { describeError, isUnauthorized } from '../session.js';
import { MatchNote, useTargetMatch } from '../target.js';

/** Every word must be in the hostname or in one of the key:value labels. */
function matchesFilter(a: AgentInfo, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const hay = [a.hostname, ...Object.entries(a.labels).map(([k, v]) => `${k}:${v}`)].map((s) =>
    s.toLowerCase(),
  );
  return words.every((w) => hay.some((h) => h.includes(w)));
}

/** What an operator may do to an agent now, by its state. */
function AgentActions({
  agent,
  busy,
  act,
}: {
  agent: AgentInfo;
  busy: boolean;
  act: (label: string, run: () => Promise<unknown>) => void;
}) {
  const { client } = useSession();
  const allowed = useAllowed(AGENT_WRITE_NEEDS);
  const h = agent.hostname;
  const button = (label: string, run: () => Promise<unknown>, danger = false) => (
    <button
      type="button"
      class={danger ? 'danger' : undefined}
      disabled={!allowed.ok || busy}
      title={allowed.ok ? undefined : `${label} ${allowed.reason}`}
      onClick={() => act(`${label} ${h}`, run)}
      aria-label={`${label} ${h}`}
    >
      {label}
    </button>
  );
  if (agent.state === 'Pending' && agent.fingerprint) {
    const fp = agent.fingerprint;
    return (
      <>
        <code
          class="fingerprint"
          title="The key it presents: compare with `osapi agent key fingerprint` on the host"
        >
          {fp}
        </code>{' '}
        {button('Accept', () => client.agentAccept(h, fp))}
        {agent.enrollment !== 'rejected'
          ? button('Reject', () => client.agentReject(h), true)
          : null}
      </>
    );
  }
  if (agent.state === 'Draining' || agent.state === 'Cordoned') {
    return button('Undrain', () => client.agentUndrain(h));
  }
  return button('Drain', () => client.agentDrain(h), true);
}

export function FleetPage() {
  const { client, ended } = useSession();
  const list = useLoad(() => client.agentList().then((r) => r.body), [], 5000);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [done, setDone] = useState('');
  const act = (label: string, run: () => Promise<unknown>) => {
    setBusy(true);
    setActionError(null);
    run()
      .then(() => {
        setDone(`${label}: done`);
        list.reload();
      })
      .catch((err: unknown) => {
        if (isUnauthorized(err)) return ended(err);
        setActionError(`${label}: ${describeError(err)}`);
      })
      .finally(() => setBusy(false));
  };
  const [filter, setFilter] = useState('');
  const [target, setTarget] = useState('');
  const match = useTargetMatch(target);
  const hits =
    match.kind === 'ok' ? new Set(match.agents.map((a) => a.hostname)) : new Set<string>();
  const agents = (list.data?.agents ?? []).filter((a) => matchesFilter(a, filter));
  const ready = (list.data?.agents ?? []).filter((a) => a.status === 'Ready').length;
  const pending = (list.data?.agents ?? []).filter((a) => a.state === 'Pending').length;

  return (
    <section aria-labelledby="fleet-title">
      <h1 id="fleet-title">Fleet</h1>
      <p class="lead" aria-live="polite">
        {list.data
          ? `${plural(list.data.total, 'agent')}, ${ready} Ready${pending > 0 ? `, ${pending} waiting to be accepted` : ''}`
          : list.loading
            ? 'Loading agents…'
            : ''}
      </p>
      <div class="controls">
        <TextField
          id="fleet-filter"
          label="Filter by name or label"
          search
          placeholder="web, group:web"
          value={filter}
          onValue={setFilter}
        />
        <TextField
          id="fleet-target"
          label="Target preview"
          placeholder="_all, group:web, web-01"
          literal
          value={target}
          onValue={setTarget}
          describedBy="fleet-match"
        />
      </div>
      <MatchNote match={match} id="fleet-match" />
      <ErrorNote error={actionError ?? list.error} />
      <p class="sr-only" aria-live="polite">
        {done}
      </p>
      <CardsTable
        caption="Agents"
        columns={[
          'Host',
          'Status',
          'State',
          'Heartbeat',
          'Labels',
          'OS',
          'Load 1/5/15',
          'Memory used',
          'Uptime',
          'Actions',
        ]}
      >
        {agents.map((a) => (
          <tr key={a.hostname} class={hits.has(a.hostname) ? 'hit' : undefined}>
            <th scope="row" data-label="Host">
              <a href={href('host', { id: a.hostname })}>{a.hostname}</a>
              {hits.has(a.hostname) ? <span class="sr-only"> (matches the target)</span> : null}
            </th>
            <td data-label="Status">
              <Badge value={a.status} />
            </td>
            <td data-label="State">
              <Badge value={a.state} />
              {(a.conditions ?? [])
                .filter((c) => c.status)
                .map((c) => (
                  <span class="chip warn" key={c.type} title={c.reason}>
                    {c.type}
                  </span>
                ))}
            </td>
            <td data-label="Heartbeat">{age(a.heartbeat_age_s)} ago</td>
            <td data-label="Labels">
              {Object.entries(a.labels).map(([k, v]) => (
                <span class="chip" key={k}>
                  {k}:{v}
                </span>
              ))}
            </td>
            <td data-label="OS">
              {a.os_info.distribution} {a.os_info.version}
            </td>
            <td data-label="Load 1/5/15" class="num">
              {[a.load_average['1min'], a.load_average['5min'], a.load_average['15min']]
                .map((l) => l.toFixed(2))
                .join(' ')}
            </td>
            <td data-label="Memory used" class="num">
              {humanBytes(a.memory.used)} / {humanBytes(a.memory.total)} (
              {percent(a.memory.used, a.memory.total)})
            </td>
            <td data-label="Uptime">{a.uptime}</td>
            <td data-label="Actions">
              <AgentActions agent={a} busy={busy} act={act} />
            </td>
          </tr>
        ))}
      </CardsTable>
      {list.data && agents.length === 0 ? (
        <p class="muted">
          {list.data.total === 0
            ? 'No agent has registered yet. Start one with `osapi agent start` (or `osapi start`).'
            : 'No agent matches the filter.'}
        </p>
      ) : null}
    </section>
  );
}
