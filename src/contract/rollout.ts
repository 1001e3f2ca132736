// Rate control fields of a broadcast request, as SSM Run Command has them: how
// many hosts may run a job at once (`max_concurrency`) and how many may fail
// before no more start (`max_errors`), each a count or a percentage of the
// matching agents. Their arithmetic is in src/job/rollout.ts.
import { type Static, Type } from 'typebox';

export const PERCENT_PATTERN = '^[0-9]{1,3}%$';

export const MaxConcurrency = Type.Union(
  [Type.Integer({ minimum: 1 }), Type.String({ pattern: PERCENT_PATTERN })],
  {
    description:
      'Broadcasts (_all, labels): at most this many hosts run the job at once; a number (>= 1) or a percentage of the matching agents ("10%", at least one host). Default: all at once.',
  },
);

export const MaxErrors = Type.Union(
  [Type.Integer({ minimum: 0 }), Type.String({ pattern: PERCENT_PATTERN })],
  {
    description:
      'Broadcasts (_all, labels): once more hosts than this have failed, no more start and the rest are marked skipped; a number (>= 0) or a percentage of the matching agents ("10%", rounded down). Default: no limit.',
  },
);

export const RolloutFields = {
  max_concurrency: Type.Optional(MaxConcurrency),
  max_errors: Type.Optional(MaxErrors),
};

export interface RolloutRequest {
  max_concurrency?: Static<typeof MaxConcurrency>;
  max_errors?: Static<typeof MaxErrors>;
}

/** The rate control a request asks for, if any (not part of the job's data). */
export function rolloutOf(input: RolloutRequest): RolloutRequest | undefined {
  if (input.max_concurrency === undefined && input.max_errors === undefined) return undefined;
  return {
    ...(input.max_concurrency !== undefined ? { max_concurrency: input.max_concurrency } : {}),
    ...(input.max_errors !== undefined ? { max_errors: input.max_errors } : {}),
  };
}
