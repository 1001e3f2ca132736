// The API's view of what operators decided of agents: what this server just
// wrote is in it at once, and an entry heard late from the bucket never
// replaces a newer one (a loaded machine delivers the follow late).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchAgentStates } from '../../src/job/agent-state-view.js';
import type { JobStore } from '../../src/job/store.js';
import { saveAgentState } from '../../src/job/store.js';
import { storeFor, waitFor } from '../api/helpers.js';
import { silentLogger } from '../support/nats.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let store: JobStore;
beforeAll(async () => {
  sys = await startTestSystem();
  store = await storeFor(sys);
});
afterAll(() => sys?.stop());

const record = (hostname: string, drained: boolean) => ({ hostname, drained, timeline: [] });

describe('the agent-state view', () => {
  it('has what this server wrote at once, and keeps the newer of two revisions', async () => {
    const view = await watchAgentStates(store, silentLogger);
    try {
      await view.loaded;
      const first = await saveAgentState(store, record('view-a', true), 0);
      expect(first).not.toBeNull();
      const second = await saveAgentState(store, record('view-a', false), first ?? 0);
      // Told of the second write before the follow brings either: it holds.
      view.wroteState('view-a', record('view-a', false), second ?? 0);
      expect(view.drained('view-a')).toBe(false);
      // The follow delivers in order: once a later write to another host is in
      // the view, both of view-a's were delivered, the older one last heard
      // after the newer was written here. It changed nothing.
      await saveAgentState(store, record('view-b', true), 0);
      await waitFor('the follow to catch up', () => view.drained('view-b') || undefined);
      expect(view.drained('view-a')).toBe(false);
      // Nor does an older revision told directly.
      view.wroteState('view-a', record('view-a', true), first ?? 0);
      expect(view.drained('view-a')).toBe(false);
    } finally {
      view.stop();
    }
  });
});
