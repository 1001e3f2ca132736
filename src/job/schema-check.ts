// Each schema compiled once per process, at its first use: the modules that
// check the same record share one validator, and a process (the CLI, an idle
// agent) compiles only the schemas it checks.
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

/** What Compile makes of a schema of type T. */
type Compiled<T extends TSchema> = ReturnType<typeof Compile<T>>;

// Keyed by the schema object: each holds its own schema's validator.
const validators = new WeakMap<TSchema, unknown>();

/** The validator of `schema`, compiled at the first call and kept. */
export function validatorOf<T extends TSchema>(schema: T): Compiled<T> {
  const known = validators.get(schema) as Compiled<T> | undefined;
  if (known) return known;
  const made = Compile(schema);
  validators.set(schema, made);
  return made;
}
