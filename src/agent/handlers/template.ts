// Templates of file deployments: Mustache, which is logic-less (names,
// sections and inverted sections, nothing else) and runs no code from the
// template or the data: the view here is JSON (facts, the request's vars,
// the hostname), looked up through own properties only, so no name reaches
// a prototype or a function Mustache would call. Bounded: a render may take
// so many steps and produce so much, then fails the host. Strict: a
// variable the view lacks fails the host, naming it, instead of rendering
// as an empty string; partials are refused. Nothing is HTML-escaped: these
// are configuration files, not pages.

import Mustache from 'mustache';
import { errorText } from '../../exec/errno.js';

export class TemplateError extends Error {
  override name = 'TemplateError';
}

type Token = string[];
type Context = Mustache.Context;

function present(value: unknown): string {
  if (value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Tokens a render may visit, loops counted each time round: a template is not a program. */
const RENDER_STEPS_MAX = 1_000_000;
/** Characters a render may produce: a deployed file, not a disk filler. */
const RENDER_OUTPUT_MAX = 16 * 1024 * 1024;

/** A name's value through own properties only (never a prototype's); found or not. */
function ownPath(view: unknown, parts: readonly string[]): { found: boolean; value?: unknown } {
  let v = view;
  for (const part of parts) {
    if (v === null || (typeof v !== 'object' && typeof v !== 'string')) return { found: false };
    if (!Object.hasOwn(Object(v), part)) return { found: false };
    v = (v as Record<string, unknown>)[part];
  }
  return { found: true, value: v };
}

/**
 * Mustache's context, looking names up through own properties only and
 * never handing back a function (Mustache calls what it finds): a template
 * reaches the view's data and nothing of JavaScript's.
 */
class DataContext extends Mustache.Context {
  override push(view: unknown): Mustache.Context {
    return new DataContext(view, this);
  }

  override lookup(name: string): unknown {
    const plain = (v: unknown) => (typeof v === 'function' ? undefined : v);
    if (name === '.') return plain(this.view);
    const parts = name.split('.');
    for (let ctx: Mustache.Context | undefined = this; ctx; ctx = ctx.parent) {
      const hit = ownPath(ctx.view, parts);
      if (hit.found) return plain(hit.value);
    }
    return undefined;
  }
}

/** A Writer whose variables must exist in the view, within a budget of steps and output. */
class StrictWriter extends Mustache.Writer {
  private steps = 0;
  private produced = 0;

  override renderTokens(
    tokens: string[][],
    context: Context,
    partials?: Mustache.PartialsOrLookupFn,
    originalTemplate?: string,
    config?: Mustache.RenderOptions,
  ): string {
    this.steps += tokens.length;
    if (this.steps > RENDER_STEPS_MAX) {
      throw new TemplateError(
        `the template takes more than ${RENDER_STEPS_MAX} steps to render (sections over long lists nested too deep?)`,
      );
    }
    return super.renderTokens(tokens, context, partials, originalTemplate, config);
  }

  override rawValue(token: Token): string {
    return this.counted(token[1] ?? '');
  }

  override escapedValue(token: Token, context: Context): string {
    return this.counted(this.strictValue(token, context));
  }

  override unescapedValue(token: Token, context: Context): string {
    return this.counted(this.strictValue(token, context));
  }

  private counted(text: string): string {
    this.produced += text.length;
    if (this.produced > RENDER_OUTPUT_MAX) {
      throw new TemplateError(`the template renders more than ${RENDER_OUTPUT_MAX} characters`);
    }
    return text;
  }

  override renderPartial(token: Token): string {
    throw new TemplateError(`partials are not supported ({{> ${token[1]}}})`);
  }

  private strictValue(token: Token, context: Context): string {
    const name = token[1] ?? '';
    const value = context.lookup(name);
    if (value === undefined) {
      throw new TemplateError(`the template uses {{${name}}}, which this host does not have`);
    }
    return present(value);
  }
}

/**
 * Facts by `@fact.` key (`os.distribution`) as nested objects
 * (`facts.os.distribution`), which is how Mustache's dotted names read.
 */
export function nestedFacts(values: ReadonlyMap<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = Object.create(null);
  for (const [key, value] of values) {
    const parts = key.split('.');
    let node = root;
    let ok = true;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (next === undefined) {
        const made: Record<string, unknown> = Object.create(null);
        node[part] = made;
        node = made;
      } else if (typeof next === 'object' && next !== null) {
        node = next as Record<string, unknown>;
      } else {
        ok = false;
        break;
      }
    }
    const leaf = parts.at(-1) as string;
    if (ok && node[leaf] === undefined) node[leaf] = value;
  }
  return root;
}

export interface TemplateView {
  hostname: string;
  facts: Record<string, unknown>;
  vars: Record<string, unknown>;
}

/**
 * A copy of JSON data whose objects and lists have no prototype: Mustache
 * looks names up with `in` and calls what it finds when it is a function, so
 * `{{vars.constructor}}` must find nothing rather than Object.
 */
function dataOnly(value: unknown): unknown {
  if (Array.isArray(value)) {
    const list = value.map(dataOnly);
    Object.setPrototypeOf(list, null);
    return list;
  }
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(value)) copy[k] = dataOnly(v);
    return copy;
  }
  return typeof value === 'function' ? undefined : value;
}

/** The rendered text; throws TemplateError naming what is wrong. */
export function renderTemplate(template: string, view: TemplateView): string {
  const writer = new StrictWriter();
  try {
    return writer.render(template, new DataContext(dataOnly(view)), undefined, {
      escape: (s: string) => s,
    });
  } catch (err) {
    if (err instanceof TemplateError) throw err;
    // Mustache's own parse errors ("Unclosed tag at 12").
    throw new TemplateError(`the template cannot be read: ${errorText(err)}`);
  }
}
