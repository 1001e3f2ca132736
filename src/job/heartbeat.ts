// How often an agent heartbeats: the agent beats at this interval and the
// API's registry view judges readiness by it, so both read it here.

/**
 * How often an agent heartbeats for a registry TTL: two thirds of it (20 s
 * with the default 30 s), so a live agent never looks NotReady between two
 * beats, and at most 20 s, since heartbeats are what an idle fleet costs the
 * server (docs/scale.md): 50 a second for 1,000 agents.
 */
export function heartbeatInterval(ttlMs: number): number {
  return Math.min(20_000, Math.floor((ttlMs * 2) / 3));
}
