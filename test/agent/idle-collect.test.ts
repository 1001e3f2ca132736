// The agent's collection once its jobs stop (src/agent/idle-collect.ts): one
// after a burst, none while a job runs, none where V8 exposes no collection.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { collectWhenIdle, exposedCollection } from '../../src/agent/idle-collect.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('collectWhenIdle', () => {
  it('collects once after a burst of jobs, when none ended for idleMs', () => {
    const collect = vi.fn();
    const idle = collectWhenIdle({ collect, running: () => 0, idleMs: 1000 });
    for (let i = 0; i < 50; i++) {
      idle.jobEnded();
      vi.advanceTimersByTime(900);
    }
    // Each job pushed it back: 50 × 900 ms and no second of quiet.
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(99);
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(collect).toHaveBeenCalledTimes(1);
    expect(idle.collections).toBe(1);
    // Nothing more until another job ends.
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(1);
    idle.jobEnded();
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(2);
  });

  it('waits while a job still runs: the job arms it again when it ends', () => {
    const collect = vi.fn();
    let running = 1;
    const idle = collectWhenIdle({ collect, running: () => running, idleMs: 1000 });
    idle.jobEnded();
    vi.advanceTimersByTime(5000);
    expect(collect).not.toHaveBeenCalled();
    running = 0;
    idle.jobEnded();
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('does nothing after stop, or with no collection to call', () => {
    const collect = vi.fn();
    const idle = collectWhenIdle({ collect, running: () => 0, idleMs: 1000 });
    idle.jobEnded();
    idle.stop();
    vi.advanceTimersByTime(5000);
    // A job that ends after the stop arms nothing.
    idle.jobEnded();
    vi.advanceTimersByTime(5000);
    expect(collect).not.toHaveBeenCalled();

    const none = collectWhenIdle({ collect: undefined, running: () => 0, idleMs: 1000 });
    none.jobEnded();
    expect(vi.getTimerCount()).toBe(0);
    expect(none.collections).toBe(0);
  });

  it('finds V8 collection only where the process exposes it', () => {
    const had = Object.getOwnPropertyDescriptor(globalThis, 'gc');
    try {
      Reflect.deleteProperty(globalThis, 'gc');
      expect(exposedCollection()).toBeUndefined();
      const gc = vi.fn();
      Object.defineProperty(globalThis, 'gc', { value: gc, configurable: true });
      exposedCollection()?.();
      expect(gc).toHaveBeenCalledTimes(1);
    } finally {
      Reflect.deleteProperty(globalThis, 'gc');
      if (had) Object.defineProperty(globalThis, 'gc', had);
    }
  });
});
