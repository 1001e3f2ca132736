// Where a netplan change being checked is recorded (handlers/netplan.ts), in
// a module of its own: the agent looks for it at every start, and loads the
// netplan handlers (and their YAML library) only when there is one.
import { join } from 'node:path';

export function netplanPendingPath(stateDir: string): string {
  return join(stateDir, 'netplan-pending.json');
}
