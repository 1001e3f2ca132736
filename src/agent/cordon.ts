// Whether this agent takes new jobs. Until its key is accepted it is
// Pending and takes none. An operator drains it (the API writes its
// agent-state entry and says so on its control subject); it then finishes
// what it runs and takes nothing new: Draining while a run goes on, Cordoned
// once idle. Undrained, it is Ready again. The agent's own timeline
// (sent with its heartbeat) records each change, and its conditions'.
import type { AgentState, TimelineEvent } from '../contract/agent.js';

/** Events kept in the agent's own timeline. */
const TIMELINE_MAX = 20;

export class Cordon {
  private drained = false;
  private accepted = false;
  private state: AgentState = 'Pending';
  private readonly events: TimelineEvent[] = [];
  private waiters: Array<() => void> = [];

  constructor(
    private readonly hostname: string,
    private readonly now: () => Date,
    /** Told each time the state changes (the agent beats at once). */
    private readonly onChange: (state: AgentState) => void = () => {},
  ) {}

  /** Ready, Draining or Cordoned. */
  get current(): AgentState {
    return this.state;
  }

  /** True while drained: nothing new is taken. */
  get isDrained(): boolean {
    return this.drained;
  }

  /** True once its key is accepted. */
  get isAccepted(): boolean {
    return this.accepted;
  }

  /** The agent's own recent events, oldest first. */
  timeline(): TimelineEvent[] {
    return [...this.events];
  }

  /** Adds an event of the agent's life (a start, a condition that changed). */
  note(event: string, message?: string): void {
    this.events.push({
      timestamp: this.now().toISOString(),
      event,
      hostname: this.hostname,
      ...(message ? { message } : {}),
    });
    if (this.events.length > TIMELINE_MAX) this.events.splice(0, this.events.length - TIMELINE_MAX);
  }

  /** Applies what API servers decided (key accepted, drained), with the runs going on now. */
  apply(standing: { accepted: boolean; drained: boolean }, running: number): void {
    this.accepted = standing.accepted;
    this.drained = standing.drained;
    this.settle(running);
  }

  /** Called as runs end: a drained agent that has become idle is Cordoned. */
  settle(running: number): void {
    const next: AgentState = !this.accepted
      ? 'Pending'
      : !this.drained
        ? 'Ready'
        : running > 0
          ? 'Draining'
          : 'Cordoned';
    if (this.accepted && !this.drained) {
      for (const w of this.waiters.splice(0)) w();
    }
    if (next === this.state) return;
    this.state = next;
    this.note(
      next.toLowerCase(),
      next === 'Ready'
        ? 'takes jobs'
        : next === 'Pending'
          ? 'its key is not accepted: takes no jobs'
          : next === 'Draining'
            ? `drained: finishing ${running} run${running === 1 ? '' : 's'}, taking nothing new`
            : 'drained and idle',
    );
    this.onChange(next);
  }

  /** Lets every waiter go (the agent stops). */
  release(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves at once when it takes jobs (accepted, not drained), else once it does (or released). */
  whenTakingJobs(): Promise<void> {
    if (this.accepted && !this.drained) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
