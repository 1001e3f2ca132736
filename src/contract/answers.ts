// The answer of every operation on a target: `{job_id, results: [...]}`, one
// item per agent, plus `expected_hosts` with `?async=true` (where `results`
// is empty). Two shapes, chosen by an operation's declaration:
//   - a query's item is the agent's result beside its hostname, with
//     `status` completed / failed / skipped / no_answer;
//   - a change's item says `ok` / failed / skipped / no_answer and whether
//     the host `changed`, as the reference's write operations do.
import { type TObject, type TProperties, Type } from 'typebox';

export const JobId = Type.String({ format: 'uuid' });

export const ExpectedHosts = Type.Array(Type.String(), {
  description:
    'Only with ?async=true: the agents the job went to (empty for _any: whichever agent takes it).',
});

const QueryStatus = Type.Union(
  [
    Type.Literal('completed'),
    Type.Literal('failed'),
    Type.Literal('skipped'),
    Type.Literal('no_answer'),
  ],
  {
    description:
      'completed: the result fields are there; failed: error says why; skipped: the host cannot do this operation (error says why); no_answer: an expected agent stayed silent.',
  },
);

const ReadStatus = Type.Union(
  [Type.Literal('ok'), Type.Literal('failed'), Type.Literal('skipped'), Type.Literal('no_answer')],
  {
    description:
      'ok: the result fields are there; failed: error says why; skipped: the host cannot do this operation (error says why, e.g. no systemd); no_answer: an expected agent stayed silent.',
  },
);

const ChangeStatus = Type.Union(
  [Type.Literal('ok'), Type.Literal('failed'), Type.Literal('skipped'), Type.Literal('no_answer')],
  {
    description:
      'ok: the host is in the state asked for; failed: error says why, and the host was left as it was unless `changed` is true (a change that failed part way; error says what it left); skipped: the host cannot do this operation (error says why); no_answer: an expected agent stayed silent.',
  },
);

/** `{job_id, results, expected_hosts?}` around one item schema. */
function answerOf<I extends TObject>(item: I) {
  return Type.Object({
    job_id: JobId,
    results: Type.Array(item),
    expected_hosts: Type.Optional(ExpectedHosts),
  });
}

/** A query's answer: each agent's result fields, when it has them. */
export function queryAnswer<P extends TProperties>(result: TObject<P>) {
  return answerOf(
    Type.Object({
      hostname: Type.String(),
      ...Type.Partial(result).properties,
      status: QueryStatus,
      error: Type.Optional(Type.String()),
    }),
  );
}

/** A read's answer: each agent's result fields, `status` ok when it has them. */
export function readAnswer<P extends TProperties>(result: TObject<P>) {
  return answerOf(
    Type.Object({
      hostname: Type.String(),
      ...Type.Partial(result).properties,
      status: ReadStatus,
      error: Type.Optional(Type.String()),
    }),
  );
}

/** A change's answer: whether each host changed, and its result fields when it has them. */
export function changeAnswer<P extends TProperties>(result: TObject<P>) {
  return answerOf(
    Type.Object({
      hostname: Type.String(),
      ...Type.Partial(result).properties,
      status: ChangeStatus,
      changed: Type.Boolean({
        description:
          'True when the host now has a state it did not have, also when a failed change left it part way (error says what changed); false when it already had it, or when nothing was done (error says why).',
      }),
      error: Type.Optional(Type.String()),
    }),
  );
}

/** Any answer as the routes build it, before it is serialised by its schema. */
export interface OperationAnswerBody {
  job_id: string;
  results: Array<{ hostname: string; status: string; error?: string; [field: string]: unknown }>;
  expected_hosts?: string[];
}
