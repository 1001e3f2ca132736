// An operation's answer from what its agents stored: one item per agent that
// answered, then one per expected agent that did not, shaped as its
// declaration says (a query's, a change's, a command's). What an agent stored
// is input too: a result its operation's schema refuses (an agent of another
// version) makes that host's item `failed`, never a malformed answer.
import type { OperationAnswerBody } from '../../contract/answers.js';
import { noAnswerResult } from '../../contract/no-answer.js';
import {
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
} from '../../contract/operations.js';
import { CommandResult } from '../../contract/states.js';
import { finalStateOf, type JobResponse } from '../../job/records.js';
import { validatorOf } from '../../job/schema-check.js';
import type { DispatchResult } from '../dispatch.js';
import { ApiError } from '../errors.js';

type Item = OperationAnswerBody['results'][number];

/** A query's or a change's item: the result's fields beside how the host's run ended. */
function hostItem(type: OperationType, resp: JobResponse): Item {
  const decl: OperationDeclaration = OPERATIONS[type];
  const state = finalStateOf(resp);
  const status =
    state === 'skipped'
      ? 'skipped'
      : resp.status === 'completed'
        ? decl.answer === 'query'
          ? 'completed'
          : 'ok'
        : 'failed';
  let fields: Record<string, unknown> = {};
  let error = resp.error;
  if (resp.status === 'completed' && resp.data !== null && resp.data !== undefined) {
    if (validatorOf(OPERATIONS[type].result).Check(resp.data))
      fields = resp.data as Record<string, unknown>;
    else {
      return {
        hostname: resp.hostname,
        status: 'failed',
        ...(decl.answer === 'change' ? { changed: false } : {}),
        error: `the agent answered ${type} with a result this API does not understand; is it running another version?`,
      };
    }
  }
  if (status === 'failed' && error === undefined)
    error = 'the agent reported a failure without a reason';
  // A read whose result has a state of its own (a file's in-sync, drifted...)
  // says it as the item's status, as the reference's file status does.
  const own = decl.resultStatus && status === 'ok' ? fields.status : undefined;
  return {
    ...fields,
    hostname: resp.hostname,
    status: typeof own === 'string' ? own : status,
    // A failed or skipped host answers no result: nothing is known to have
    // changed, unless it says its change failed part way.
    ...(decl.answer === 'change'
      ? { changed: fields.changed === true || failedPartWay(status, resp.data) }
      : {}),
    ...(error !== undefined ? { error } : {}),
  };
}

/**
 * A host's item as the answer has it: itself, or, for a read answering an
 * item per element (itemPer), one per element of its list beside the host's
 * name and status; one without any for a host with none.
 */
function perElement(decl: OperationDeclaration, item: Item): Item[] {
  if (decl.itemPer === undefined) return [item];
  const { [decl.itemPer]: list, ...host } = item as Record<string, unknown>;
  if (!Array.isArray(list) || list.length === 0) return [host as Item];
  return list.map((element) => ({ ...(element as object), ...host }) as Item);
}

/** Whether a failed change's data says it left the host changed (`{changed: true}`). */
function failedPartWay(status: string, data: unknown): boolean {
  return (
    status === 'failed' &&
    typeof data === 'object' &&
    data !== null &&
    (data as { changed?: unknown }).changed === true
  );
}

/** A command's item: its output and exit code, with defaults where the host had none. */
function commandItem(resp: JobResponse): Item {
  const data = validatorOf(CommandResult).Check(resp.data) ? resp.data : null;
  return {
    hostname: resp.hostname,
    stdout: data?.stdout ?? '',
    stderr: data?.stderr ?? '',
    exit_code: data?.exit_code ?? -1,
    duration_ms: data?.duration_ms ?? 0,
    changed: data?.changed ?? false,
    ...(resp.error !== undefined ? { error: resp.error } : {}),
    status: resp.status,
    state: finalStateOf(resp),
    stdout_truncated: data?.stdout_truncated ?? false,
    stderr_truncated: data?.stderr_truncated ?? false,
  };
}

/** The item of an expected agent that never answered. */
function silentItem(
  type: OperationType,
  hostname: string,
  timeoutS: number,
  r: DispatchResult,
): Item {
  const error = r.natsInterrupted
    ? `no answer from this agent within ${timeoutS} s plus a margin, and NATS was unavailable for part of the wait (a node lost, a leader election): its answer may have been lost. GET /job/${r.jobId} shows it if it was stored; or send the request again`
    : `no answer from this agent within ${timeoutS} s plus a margin; it was Ready when the job was sent`;
  const decl: OperationDeclaration = OPERATIONS[type];
  if (decl.answer === 'command') return noAnswerResult(hostname, error);
  return {
    hostname,
    status: 'no_answer',
    ...(decl.answer === 'change' ? { changed: false } : {}),
    error,
  };
}

/**
 * The waiting answer; the 500 `no_agent_answered` when no agent answered at
 * all (the job stays recorded, and the error names it).
 */
export function operationAnswer(
  type: OperationType,
  r: DispatchResult,
  timeoutS: number,
): OperationAnswerBody {
  const decl: OperationDeclaration = OPERATIONS[type];
  const results = r.responses.flatMap((resp) =>
    decl.answer === 'command' ? [commandItem(resp)] : perElement(decl, hostItem(type, resp)),
  );
  for (const hostname of r.missing) results.push(silentItem(type, hostname, timeoutS, r));
  if (results.every((x) => x.status === 'no_answer')) {
    throw new ApiError(
      'no_agent_answered',
      `no agent answered ${type} within ${(r.waitedMs / 1000).toFixed(1)} s (its timeout of ${timeoutS} s plus a margin); job ${r.jobId} stays recorded`,
      { job_id: r.jobId, missing: r.missing },
    );
  }
  return { job_id: r.jobId, results };
}
