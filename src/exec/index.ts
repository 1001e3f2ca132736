// The process runner: runs one command on this host with a timeout, an output cap and a kill that
// reaches the whole process tree. It knows nothing of how jobs arrive or where results go.
export { killProcessGroup } from './kill-process-group.js';
export { environmentForAccount } from './run-as.js';
export { runCommand } from './run-command.js';
export type { OutputListener, RunEnd, RunRequest, RunResult } from './types.js';
