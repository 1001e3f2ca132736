// The buckets behind a job store, opened apart from it: the product reaches
// them only through src/job/store.ts, but a test forges, reads or removes
// keys the way an agent or an attacker with NATS access could.
import { type KV, Kvm } from '@nats-io/kv';
import type { JobStore } from '../../src/job/store.js';

export interface Buckets {
  jobs: KV;
  responses: KV;
  registry: KV;
}

const opened = new WeakMap<JobStore, Promise<Buckets>>();

export function bucketsOf(store: JobStore): Promise<Buckets> {
  let b = opened.get(store);
  if (!b) {
    const kvm = new Kvm(store.js);
    b = Promise.all([
      kvm.open(store.names.jobsBucket),
      kvm.open(store.names.responsesBucket),
      kvm.open(store.names.registryBucket),
    ]).then(([jobs, responses, registry]) => ({ jobs, responses, registry }));
    opened.set(store, b);
  }
  return b;
}
