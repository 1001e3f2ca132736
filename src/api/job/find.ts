// Finding a job by id for a route: in this server's live view of the jobs, or,
// when it is stored but not yet there (made a moment ago through another API
// server; the view follows the bucket a few milliseconds behind, more under
// load), once the view has it.
import type { JobEntry, JobsView } from '../../job/jobs-view.js';
import { type JobStore, readJob } from '../../job/store.js';
import { jobAppears } from '../dispatch.js';
import { ApiError } from '../errors.js';

/** How long a read waits for this server's view to show a job that is stored already. */
const VIEW_CATCH_UP_MS = 5000;

/** The job, or 404 `not_found`. */
export async function findJob(
  deps: { jobs: JobsView; store: JobStore },
  id: string,
): Promise<JobEntry> {
  const entry = deps.jobs.get(id);
  if (entry) return entry;
  if ((await readJob(deps.store, id).catch(() => null)) !== null) {
    const caught = await jobAppears(deps.jobs, id, VIEW_CATCH_UP_MS);
    if (caught) return caught;
  }
  throw new ApiError('not_found', `no job ${id} (it may have expired or been deleted)`);
}
