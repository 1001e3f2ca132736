// The agents a target reaches, live as it is typed: GET /agent?target= asks
// the API, which parses the target as a command route would, so the count
// and any error are exactly what running there would meet.
import { useEffect, useState } from 'preact/hooks';
import type { AgentInfo } from '../sdk/client.js';
import { useAllowed, useDebounced, useSession } from './components.js';
import { plural } from './format.js';
import { describeError, isUnauthorized } from './session.js';

export type Match =
  | { kind: 'idle' }
  | { kind: 'loading'; target: string }
  | { kind: 'ok'; target: string; agents: AgentInfo[] }
  | { kind: 'error'; target: string; error: string }
  | { kind: 'unavailable'; reason: string };

export function useTargetMatch(typed: string): Match {
  const { client, ended } = useSession();
  const allowed = useAllowed(['agent:read']);
  const target = useDebounced(typed.trim(), 200);
  const [match, setMatch] = useState<Match>({ kind: 'idle' });
  useEffect(() => {
    if (!allowed.ok) {
      setMatch({ kind: 'unavailable', reason: `the preview ${allowed.reason}` });
      return;
    }
    if (!target) {
      setMatch({ kind: 'idle' });
      return;
    }
    let stale = false;
    setMatch({ kind: 'loading', target });
    client.agentList(target).then(
      ({ body }) => {
        if (!stale) setMatch({ kind: 'ok', target, agents: body.agents });
      },
      (err: unknown) => {
        if (stale) return;
        if (isUnauthorized(err)) ended(err);
        else setMatch({ kind: 'error', target, error: describeError(err) });
      },
    );
    return () => {
      stale = true;
    };
  }, [target, allowed.ok, allowed.reason, client, ended]);
  // What is on screen must be about what is typed now, not a moment ago.
  return match.kind !== 'idle' && 'target' in match && match.target !== typed.trim()
    ? { kind: 'loading', target: typed.trim() }
    : match;
}

/** "2 agents match group:web: web-01, web-02", said politely to screen readers. */
export function MatchNote({ match, id }: { match: Match; id: string }) {
  let text = '';
  let cls = 'match muted';
  if (match.kind === 'loading') text = 'Looking for matching agents…';
  else if (match.kind === 'unavailable') text = `No preview: ${match.reason}.`;
  else if (match.kind === 'error') {
    text = match.error;
    cls = 'match error';
  } else if (match.kind === 'ok') {
    const n = match.agents.length;
    const names = match.agents.map((a) => a.hostname).join(', ');
    text =
      match.target === '_any'
        ? `${plural(n, 'Ready agent')} could take it (one will)${n ? `: ${names}` : ''}`
        : `${plural(n, 'agent')} ${n === 1 ? 'matches' : 'match'} ${match.target}${n ? `: ${names}` : ''}`;
    cls = n === 0 ? 'match warn' : 'match';
  }
  return (
    <p id={id} class={cls} aria-live="polite" data-testid="match-count">
      {text}
    </p>
  );
}
