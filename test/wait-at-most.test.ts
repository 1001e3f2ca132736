import { describe, expect, it } from 'vitest';
import { waitAtMost } from '../src/wait-at-most.js';

describe('waitAtMost', () => {
  it('is true once the promise resolves in time', async () => {
    expect(await waitAtMost(Promise.resolve('x'), 60_000)).toBe(true);
  });

  it('is false when the time runs out first', async () => {
    expect(await waitAtMost(new Promise(() => {}), 10)).toBe(false);
  });

  it('passes a rejection through', async () => {
    await expect(waitAtMost(Promise.reject(new Error('gone')), 60_000)).rejects.toThrow('gone');
  });
});
