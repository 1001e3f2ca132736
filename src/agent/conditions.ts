// Evaluates the agent's conditions (contract/conditions.ts) from what it
// measures on each heartbeat: memory in use, the fullest local filesystem,
// and the 1-minute load per CPU, each against its threshold. The tracker
// remembers when each condition last changed.
import type { ConditionType, NodeCondition } from '../contract/conditions.js';

export interface ConditionThresholds {
  /** Percent of memory in use at or above which MemoryPressure holds. */
  memoryPercent: number;
  /** Percent of any local filesystem in use at or above which DiskPressure holds. */
  diskPercent: number;
  /** 1-minute load average per CPU at or above which HighLoad holds. */
  loadPerCpu: number;
}

export interface ConditionSample {
  memory: { total: number; used: number };
  /** Local filesystems: mount point, bytes in all and in use. */
  disks: Array<{ name: string; total: number; used: number }>;
  load1: number;
  cpus: number;
}

const pct = (used: number, total: number) => (total > 0 ? (100 * used) / total : 0);
const round1 = (n: number) => Math.round(n * 10) / 10;

/** Each condition's status now, and why. */
export function evaluateConditions(
  s: ConditionSample,
  t: ConditionThresholds,
): Array<{ type: ConditionType; status: boolean; reason: string }> {
  const memory = pct(s.memory.used, s.memory.total);
  const fullest = [...s.disks]
    .map((d) => ({ name: d.name, used: pct(d.used, d.total) }))
    .sort((a, b) => b.used - a.used)[0];
  const perCpu = s.load1 / Math.max(1, s.cpus);
  return [
    {
      type: 'MemoryPressure',
      status: memory >= t.memoryPercent,
      reason: `memory ${round1(memory)}% in use (threshold ${t.memoryPercent}%)`,
    },
    {
      type: 'DiskPressure',
      status: fullest !== undefined && fullest.used >= t.diskPercent,
      reason: fullest
        ? `${fullest.name} ${round1(fullest.used)}% in use (threshold ${t.diskPercent}%)`
        : 'no local filesystem found',
    },
    {
      type: 'HighLoad',
      status: perCpu >= t.loadPerCpu,
      reason: `load ${round1(s.load1)} on ${s.cpus} CPUs, ${round1(perCpu)} per CPU (threshold ${t.loadPerCpu})`,
    },
  ];
}

/** Conditions over time: each keeps the time its status last changed. */
export class ConditionTracker {
  private readonly since = new Map<ConditionType, { status: boolean; at: string }>();

  constructor(private readonly thresholds: ConditionThresholds) {}

  /** The conditions for this sample; `onChange` hears each whose status changed. */
  update(
    sample: ConditionSample,
    now: Date,
    onChange: (c: NodeCondition) => void = () => {},
  ): NodeCondition[] {
    return evaluateConditions(sample, this.thresholds).map((c) => {
      const before = this.since.get(c.type);
      if (!before || before.status !== c.status) {
        this.since.set(c.type, { status: c.status, at: now.toISOString() });
        const condition = { ...c, last_transition_time: now.toISOString() };
        // The first evaluation is a start, not a change, unless it holds.
        if (before || c.status) onChange(condition);
        return condition;
      }
      return { ...c, last_transition_time: before.at };
    });
  }
}
