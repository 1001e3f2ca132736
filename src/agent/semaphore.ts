// Bounds how many jobs an agent runs at once (agent.max_jobs); the rest wait
// in arrival order.
export class Semaphore {
  #free: number;
  readonly #waiters: Array<() => void> = [];
  readonly #freeWaiters: Array<() => void> = [];

  constructor(readonly size: number) {
    this.#free = size;
  }

  get running(): number {
    return this.size - this.#free;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) {
      next();
      return;
    }
    this.#free++;
    for (const w of this.#freeWaiters.splice(0)) w();
  }

  /** Resolves once a slot is free, without taking it. */
  async whenFree(): Promise<void> {
    if (this.#free > 0) return;
    await new Promise<void>((resolve) => this.#freeWaiters.push(resolve));
  }
}
