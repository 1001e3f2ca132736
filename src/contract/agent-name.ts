// The names an agent may take (its hostname in jobs, subjects and keys): one
// rule for the API's routes, the config and the agent's own check
// (src/names/names.ts isValidHostname).

export const AGENT_NAME_MAX = 253;

/** Segments of letters, digits, `-` and `_` joined by dots, not starting with `_`, at most 253 characters. */
export const AGENT_NAME_PATTERN = `^(?=.{1,${AGENT_NAME_MAX}}$)(?!_)[A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)*$`;

export const AGENT_NAME_EXPECTED = `must be an agent's name: letters, digits, '-' and '_' in parts joined by dots, not starting with '_', at most ${AGENT_NAME_MAX} characters (e.g. web-01)`;
