// An agent's conditions: whether its host is short of memory or disk, or
// loaded past what its CPUs take, against thresholds in its config
// (agent.conditions). Shown in GET /agent and the agent's metrics.
import { type Static, Type } from 'typebox';

export const CONDITION_TYPES = ['MemoryPressure', 'DiskPressure', 'HighLoad'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export const NodeCondition = Type.Object({
  type: Type.Enum(CONDITION_TYPES),
  /** True while the condition holds. */
  status: Type.Boolean(),
  /** What was measured against what threshold. */
  reason: Type.Optional(Type.String()),
  /** When `status` last changed (or when the agent started, if it never did). */
  last_transition_time: Type.String({ format: 'date-time' }),
});
export type NodeCondition = Static<typeof NodeCondition>;
