// Turns schema-validation failures into messages that name the field and what
// was expected ("timeout: must be <= 300"), for the 400 body.
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { patternMessage } from '../contract/pattern-messages.js';
import { fieldPath } from '../job/data-checks.js';
import type { FieldProblem } from './errors.js';

/** Ajv names the offending key of a `propertyNames` rule (env names) beside the error. */
type ValidationError = FastifySchemaValidationError & { propertyName?: string };

function field(e: ValidationError, context: string): string {
  const params = e.params as Record<string, unknown>;
  const path = fieldPath(e.instancePath.split('/'));
  const child =
    typeof params.missingProperty === 'string'
      ? params.missingProperty
      : typeof params.additionalProperty === 'string'
        ? params.additionalProperty
        : (e.propertyName ?? (typeof params.propertyName === 'string' ? params.propertyName : ''));
  const joined = [path, child].filter(Boolean).join('.');
  return joined || context;
}

function message(e: ValidationError): string {
  // A broken rule of a key (an env name) rather than of its value.
  if (e.propertyName !== undefined) return `is not a valid name: ${ruleMessage(e)}`;
  return ruleMessage(e);
}

function ruleMessage(e: ValidationError): string {
  const params = e.params as Record<string, unknown>;
  if (typeof params.missingProperty === 'string') return 'is required';
  if (typeof params.additionalProperty === 'string') return 'is not a known field';
  if (e.keyword === 'minLength' && params.limit === 1) return 'must not be empty';
  // The only unions in our request schemas are "a count or a percentage" (rollout.ts).
  if (e.keyword === 'anyOf') return 'must be a whole number or a percentage such as "10%"';
  if (e.keyword === 'pattern') {
    const pattern = typeof params.pattern === 'string' ? params.pattern : '';
    return patternMessage(pattern) ?? `must match ${pattern}`;
  }
  return e.message ?? 'is invalid';
}

export function describeValidation(
  errors: FastifySchemaValidationError[],
  context: string,
): { message: string; fields: FieldProblem[] } {
  // One line per field: an empty command breaks two rules, say it once. A
  // union's own error says what was expected better than its branches' do.
  const unions = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const seen = new Set<string>();
  const fields = errors
    .filter((e) => e.keyword === 'anyOf' || !unions.has(e.instancePath))
    .map((e) => ({ field: field(e, context), message: message(e) }))
    .filter((d) => !seen.has(d.field) && seen.add(d.field));
  return {
    message: `invalid ${context}: ${fields.map((d) => `${d.field} ${d.message}`).join('; ')}`,
    fields,
  };
}
