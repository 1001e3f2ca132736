// Wraps a node operation's handler so that it runs only on data its schema
// accepts (a job read from NATS is input too, whoever published it), typed
// input in, a typed result, an error or `unsupported` out.
import type { OperationData, OperationResult, OperationType } from '../../contract/operations.js';
import { errorText } from '../../exec/errno.js';
import { operationDataProblems } from '../../job/data-checks.js';
import {
  type HandlerContext,
  type HandlerOutcome,
  type JobHandler,
  skippedOutcome,
  type Unsupported,
} from './types.js';

/**
 * What a node handler returns: its result, why it could not produce one, or
 * that this host does not support the operation (the host's state `skipped`).
 */
export type NodeOutcome<T extends OperationType> =
  | { ok: true; result: OperationResult<T> }
  /** `changed`: a change that failed part way and left the host other than it was. */
  | { ok: false; error: string; changed?: boolean }
  | Unsupported;

/** A handler's failure: the sentence the person who asked reads. */
export function failed(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

export function nodeHandler<T extends OperationType>(
  type: T,
  run: (data: OperationData<T>, ctx: HandlerContext) => Promise<NodeOutcome<T>>,
): JobHandler {
  return async (data: unknown, ctx: HandlerContext): Promise<HandlerOutcome> => {
    const problems = operationDataProblems(type, data);
    if (problems.length > 0) {
      return {
        status: 'failed',
        data: null,
        error: `invalid job data: ${problems.map((p) => `${p.field || '/'} ${p.message}`).join('; ')}`,
      };
    }
    let out: NodeOutcome<T>;
    try {
      out = await run(data as OperationData<T>, ctx);
    } catch (err) {
      // A handler's own fault still answers: never a job left without a result.
      out = {
        ok: false,
        error: `${type} failed: ${errorText(err)}`,
      };
    }
    if ('unsupported' in out) return skippedOutcome(out.unsupported);
    if (out.ok) return { status: 'completed', data: out.result };
    return {
      status: 'failed',
      data: out.changed === true ? { changed: true } : null,
      error: out.error,
    };
  };
}
