// The API's route schemas compiled at first use. Fastify compiles every
// route's request validators and response serializers when it starts: about
// 90 serializers and as many validators here, each generated code (its
// source kept by V8 beside what it compiles to), although a server answers a
// handful of routes in most of its life. Compiled when a route first needs
// one, they cost the API server neither its start nor its memory at rest
// (bench/RESULTS.md). The compiled function is the one Fastify's own
// compilers would make; `compileAll` builds every one at once, so a test
// finds a schema that does not compile without sending each request.
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { DataValidationCxt } from 'ajv/dist/types/index.js';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';

/**
 * What Fastify reads of a validator: its answer, its errors after a `false`,
 * and `schemaEnv`, which tells it to pass where the data sits (Ajv writes a
 * coerced root value back there), as it does for a function Ajv compiled.
 */
export interface LazyValidator {
  (data: unknown, dataCxt?: DataValidationCxt): boolean;
  errors: ErrorObject[] | null | undefined;
  schemaEnv: true;
}

export interface SchemaCompilers {
  validator(ctx: { schema: object; httpPart?: string }): LazyValidator;
  serializer(ctx: FastifyRouteSchemaDef<unknown>): (doc: unknown) => string;
  /** Compiles what is not compiled yet: a schema that does not compile throws here. */
  compileAll(): void;
  /** How many are compiled, of how many made: what tests read. */
  counts(): { compiled: number; made: number };
}

/**
 * Validators compiled by `strict` (bodies) or `lenient` (path and query),
 * serializers by fast-json-stringify as Fastify's default does (no shared
 * schemas are added to this server).
 */
export function lazySchemaCompilers(strict: Ajv, lenient: Ajv): SchemaCompilers {
  const serialize = SerializerSelector()({}, {});
  const pending = new Set<() => void>();
  let made = 0;
  // A compile that throws stays pending: the next use, and compileAll, meet the same error.
  const later = (compile: () => void) => {
    made++;
    pending.add(compile);
    return () => {
      if (!pending.has(compile)) return;
      compile();
      pending.delete(compile);
    };
  };
  return {
    validator({ schema, httpPart }) {
      const ajv = httpPart === 'body' ? strict : lenient;
      let compiled: ValidateFunction | undefined;
      const ensure = later(() => {
        compiled = ajv.compile(schema);
      });
      const validate = ((data: unknown, dataCxt?: DataValidationCxt) => {
        ensure();
        const fn = compiled as ValidateFunction;
        const ok = fn(data, dataCxt) as boolean;
        validate.errors = fn.errors;
        return ok;
      }) as LazyValidator;
      validate.errors = null;
      validate.schemaEnv = true;
      return validate;
    },
    serializer(ctx) {
      let compiled: ((doc: unknown) => string) | undefined;
      const ensure = later(() => {
        compiled = serialize({ ...ctx, httpStatus: ctx.httpStatus ?? 'default' });
      });
      return (doc) => {
        ensure();
        return (compiled as (doc: unknown) => string)(doc);
      };
    },
    compileAll() {
      for (const compile of [...pending]) {
        compile();
        pending.delete(compile);
      }
    },
    counts: () => ({ compiled: made - pending.size, made }),
  };
}
