// Operations: any declared operation (src/contract/operations.ts) but the
// commands, which have the Run page, from one page: pick it (by domain; one
// the token may not run is shown disabled with the reason), a target with
// the agents it matches, a form made from its input schema, a confirmation
// before a change (a stronger one for _all), and the answer per host.
import { useMemo, useState } from 'preact/hooks';
import type { OperationAnswerBody } from '../../contract/answers.js';
import type { FieldProblem } from '../../contract/errors.js';
import { documentedRoute, isOperationType, type OperationType } from '../../contract/operations.js';
import {
  type AgentInfo,
  type OperationOptions,
  OsapiApiError,
  type OsapiResponse,
} from '../../sdk/client.js';
import { Confirm, ErrorNote, TextField, useAllowed, useLoad, useSession } from '../components.js';
import { plural } from '../format.js';
import { resultSummary } from '../operation-answer.js';
import {
  emptyValues,
  type FormField,
  type FormValues,
  factCompletions,
  formFields,
  type OfferedOperation,
  operationGroups,
  problemsByField,
  readForm,
  shownBody,
} from '../operation-form.js';
import { OperationResults } from '../operation-result.js';
import { href } from '../router.js';
import { describeError, isUnauthorized } from '../session.js';
import { MatchNote, useTargetMatch } from '../target.js';

/** The operation the URL names, if the page offers it; else the first the token may run. */
function initialType(asked: string | null, all: readonly OfferedOperation[]): OperationType {
  const named = all.find((o) => o.type === asked);
  if (named) return named.type;
  return (all.find((o) => o.reason === '') ?? all[0])?.type as OperationType;
}

export function OperationsPage({ params }: { params: URLSearchParams }) {
  const { me } = useSession();
  const groups = useMemo(() => operationGroups(me.permissions), [me.permissions]);
  const all = groups.flatMap((g) => g.operations);
  const [type, setType] = useState<OperationType>(() => initialType(params.get('op'), all));
  const [target, setTarget] = useState(params.get('target') ?? '_any');
  const offered = all.find((o) => o.type === type);

  const pick = (value: string) => {
    if (!isOperationType(value)) return;
    setType(value);
    // The place follows the choice without a new history entry per pick.
    window.history.replaceState(null, '', href('operations', { params: { op: value } }));
  };

  return (
    <section aria-labelledby="ops-title">
      <h1 id="ops-title">Operations</h1>
      <div class="panel">
        <div class="field wide">
          <label for="op-pick">Operation</label>
          <select id="op-pick" value={type} onChange={(e) => pick(e.currentTarget.value)}>
            {groups.map((g) => (
              <optgroup key={g.domain} label={g.domain}>
                {g.operations.map((o) => (
                  <option key={o.type} value={o.type} disabled={o.reason !== ''}>
                    {o.type} — {o.reason || o.decl.summary}
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
        </div>
        {offered ? <About offered={offered} /> : null}
      </div>
      {offered ? (
        <OperationForm key={type} offered={offered} target={target} setTarget={setTarget} />
      ) : null}
    </section>
  );
}

function About({ offered }: { offered: OfferedOperation }) {
  const { decl, reason } = offered;
  return (
    <dl class="facts" data-testid="op-about">
      <dt>What</dt>
      <dd>{decl.summary}</dd>
      <dt>Route</dt>
      <dd>
        <code>{documentedRoute(decl)}</code>
      </dd>
      <dt>Needs</dt>
      <dd>
        <code>{decl.permission}</code>
        {reason ? <span class="error-text"> — this token does not grant it</span> : null}
      </dd>
      <dt>Kind</dt>
      <dd>
        {decl.kind === 'modify'
          ? 'changes the hosts (asks before it runs)'
          : 'reads the hosts, changes nothing'}
      </dd>
      <dt>CLI</dt>
      <dd>
        <code>osapi client {decl.cli.command.join(' ')}</code>
      </dd>
    </dl>
  );
}

interface Pending {
  input: Record<string, unknown>;
  route: string;
  body: Record<string, unknown> | null;
  target: string;
  /** The agents it would reach, or null when the token may not list agents. */
  agents: AgentInfo[] | null;
  /** One key per confirmation: pressing the button twice makes one job. */
  idempotencyKey: string;
}

interface Answer {
  body: OperationAnswerBody;
  route: string;
}

/** The id of a field's input, and of its hint and its error beside it. */
const fieldId = (name: string) => `op-field-${name}`;
const TARGET_KEY = '@target';

/** `client.call` for an operation chosen at run time: its input is the form's. */
type AnyCall = (
  type: OperationType,
  target: string,
  input: Record<string, unknown>,
  opts: OperationOptions,
) => Promise<OsapiResponse<unknown>>;

function OperationForm({
  offered,
  target,
  setTarget,
}: {
  offered: OfferedOperation;
  target: string;
  setTarget(t: string): void;
}) {
  const { type, decl, reason } = offered;
  const { client, ended } = useSession();
  const canList = useAllowed(['agent:read']);
  const fields = useMemo(() => formFields(decl), [decl]);
  const [values, setValues] = useState<FormValues>(() => emptyValues(fields));
  const [problems, setProblems] = useState<Map<string, string[]>>(new Map());
  const [pending, setPending] = useState<Pending | null>(null);
  const [typedAll, setTypedAll] = useState('');
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [busy, setBusy] = useState(false);
  const match = useTargetMatch(target);
  const factKeys = useLoad(
    () =>
      canList.ok
        ? client.factKeys().then((r) => r.body.keys.map((k) => k.key))
        : Promise.resolve([] as string[]),
    [canList.ok],
  );

  const show = (found: Map<string, string[]>) => {
    setProblems(found);
    const at = (k: string) => document.getElementById(k === TARGET_KEY ? 'op-target' : fieldId(k));
    // A field at fault inside the folded rate control is shown, not left folded away.
    for (const k of found.keys()) {
      const folded = at(k)?.closest('details');
      if (folded) folded.open = true;
    }
    // The first field at fault takes the focus, where its message is read out.
    const first = [TARGET_KEY, ...fields.map((f) => f.name)].find((k) => found.has(k));
    if (first) at(first)?.focus();
  };

  const refused = (err: unknown) => {
    if (isUnauthorized(err)) return ended(err);
    const found = new Map<string, string[]>();
    const body = err instanceof OsapiApiError ? (err.body as Record<string, unknown>) : null;
    const listed = Array.isArray(body?.fields) ? (body.fields as FieldProblem[]) : [];
    if (listed.length > 0) {
      for (const [k, v] of problemsByField(decl, fields, listed)) found.set(k, v);
    }
    if (body?.reason === 'invalid_target' || body?.reason === 'no_matching_agent') {
      found.set(TARGET_KEY, [describeError(err)]);
    } else if (listed.length === 0 || found.has('')) {
      found.set('', [describeError(err), ...(found.get('') ?? [])]);
    }
    show(found);
  };

  const send = async (p: Pick<Pending, 'input' | 'route' | 'target'>, idempotencyKey?: string) => {
    setBusy(true);
    try {
      const call = client.call.bind(client) as unknown as AnyCall;
      const { body } = await call(
        type,
        p.target,
        p.input,
        idempotencyKey ? { idempotencyKey } : {},
      );
      setAnswer({ body: body as OperationAnswerBody, route: p.route });
    } catch (err) {
      refused(err);
    } finally {
      setBusy(false);
      setPending(null);
    }
  };

  const review = async (e: Event) => {
    e.preventDefault();
    setProblems(new Map());
    setAnswer(null);
    const t = target.trim();
    if (!t) {
      return show(
        new Map([[TARGET_KEY, ['Choose a target: _any, _all, a host, key:value or a fact.']]]),
      );
    }
    const request = readForm(decl, fields, values, t);
    if (!request.ok) return show(problemsByField(decl, fields, request.problems));
    if (decl.kind === 'query') return send({ ...request, target: t });
    let agents: AgentInfo[] | null = null;
    if (canList.ok) {
      setBusy(true);
      try {
        agents = (await client.agentList(t)).body.agents;
      } catch (err) {
        return refused(err);
      } finally {
        setBusy(false);
      }
    }
    setTypedAll('');
    setPending({
      input: request.input,
      route: request.route,
      body: request.body,
      target: t,
      agents,
      idempotencyKey: crypto.randomUUID(),
    });
  };

  const rate = fields.filter((f) => f.kind === 'rate');
  const own = fields.filter((f) => f.kind !== 'rate');
  const field = (f: FormField) => (
    <FieldInput
      key={f.name}
      field={f}
      value={values[f.name] ?? ''}
      onValue={(v) => setValues({ ...values, [f.name]: v })}
      problems={problems.get(f.name) ?? []}
      factKeys={factKeys.data ?? []}
      disabled={reason !== ''}
    />
  );
  const targetProblems = problems.get(TARGET_KEY) ?? [];
  const count = pending?.agents?.length ?? null;
  const everyHost = pending?.target === '_all';
  const hostsWord =
    pending === null
      ? ''
      : pending.target === '_any'
        ? 'one host'
        : count === null
          ? pending.target
          : plural(count, 'host');

  return (
    <>
      <form class="panel run-form op-form" onSubmit={review} noValidate>
        <TextField
          id="op-target"
          label="Target"
          value={target}
          onValue={setTarget}
          literal
          describedBy="op-match op-target-err"
          invalid={targetProblems.length > 0 ? true : undefined}
        >
          <MatchNote match={match} id="op-match" />
          <FieldError id="op-target-err" problems={targetProblems} />
        </TextField>
        {own.length === 0 ? (
          <p class="muted">This operation takes nothing but its target.</p>
        ) : (
          <div class="op-fields">{own.map(field)}</div>
        )}
        {rate.length > 0 ? (
          <details>
            <summary>Rate control (broadcasts)</summary>
            <div class="grid">{rate.map(field)}</div>
          </details>
        ) : null}
        <ErrorNote error={(problems.get('') ?? []).join(' ') || null} />
        <div class="actions">
          {reason ? <p class="muted">Not available: this operation {reason}.</p> : null}
          <button
            type="submit"
            class="primary"
            disabled={busy || reason !== ''}
            title={reason || undefined}
          >
            {busy && !pending ? 'Running…' : decl.kind === 'modify' ? 'Run…' : 'Run'}
          </button>
        </div>
      </form>

      <Confirm
        open={pending !== null}
        title={
          count === 0
            ? 'No agent would run it'
            : everyHost
              ? `Change ALL ${count === null ? '' : `${count} `}hosts?`
              : `Change ${hostsWord}?`
        }
        {...(count === 0 ? {} : { confirmLabel: busy ? 'Running…' : `Run on ${hostsWord}` })}
        confirmDisabled={busy || (everyHost && typedAll.trim() !== '_all')}
        onConfirm={() => pending && send(pending, pending.idempotencyKey)}
        onCancel={() => setPending(null)}
      >
        {pending ? (
          <>
            <p>
              <strong>{type}</strong>: {decl.summary}
            </p>
            <p>
              <code class="cmd">{pending.route}</code>
            </p>
            {pending.body && Object.keys(pending.body).length > 0 ? (
              <pre class="output">{JSON.stringify(shownBody(fields, pending.body), null, 2)}</pre>
            ) : null}
            <HostsNote pending={pending} />
            {everyHost && count !== 0 ? (
              <TextField
                id="op-confirm-all"
                label="This changes every host. Type _all to confirm"
                value={typedAll}
                onValue={setTypedAll}
                literal
              />
            ) : null}
          </>
        ) : null}
      </Confirm>

      {answer ? (
        <section aria-labelledby="op-result-title" class="op-answer">
          <h2 id="op-result-title">Result</h2>
          <p class="summary" data-testid="op-summary" aria-live="polite">
            {resultSummary(decl, answer.body)}
          </p>
          <p class="muted">
            <code>{answer.route}</code> · job{' '}
            <a href={href('job', { id: answer.body.job_id })}>{answer.body.job_id}</a>
          </p>
          <OperationResults decl={decl} body={answer.body} />
        </section>
      ) : null}
    </>
  );
}

function HostsNote({ pending }: { pending: Pending }) {
  const { target, agents } = pending;
  if (agents === null) {
    return (
      <p>
        on <code>{target}</code> (how many hosts that is cannot be shown: listing agents needs
        agent:read).
      </p>
    );
  }
  if (agents.length === 0) return <p>No Ready agent matches {target}: nothing would run.</p>;
  const names = agents.map((a) => a.hostname).join(', ');
  return target === '_any' ? (
    <p>
      on one of {plural(agents.length, 'Ready agent')}: {names}.
    </p>
  ) : (
    <p>
      on {plural(agents.length, 'host')}: {names}.
    </p>
  );
}

function FieldError({ id, problems }: { id: string; problems: readonly string[] }) {
  return (
    <p id={id} class="error-text field-error" aria-live="polite">
      {problems.join('; ')}
    </p>
  );
}

/** How a kind of field is typed, said under it. */
function formHint(f: FormField): string {
  switch (f.kind) {
    case 'list':
      return 'Comma-separated or one per line; [] for an empty list.';
    case 'mapping':
      return 'name=value, one per line, or a JSON object.';
    case 'rate':
      return 'A number of hosts or a percentage such as 10%.';
    case 'json':
      return 'JSON.';
    default:
      return '';
  }
}

/** A number's range as a placeholder: `1–300`, `≥ 0`. */
function rangeOf(f: FormField): string | undefined {
  if (f.kind !== 'integer' && f.kind !== 'number') return undefined;
  const { minimum: lo, maximum: hi } = f.schema;
  if (lo !== undefined && hi !== undefined) return `${lo}–${hi}`;
  if (lo !== undefined) return `≥ ${lo}`;
  if (hi !== undefined) return `≤ ${hi}`;
  return undefined;
}

function FieldInput({
  field: f,
  value,
  onValue,
  problems,
  factKeys,
  disabled,
}: {
  field: FormField;
  value: string | boolean;
  onValue(v: string | boolean): void;
  problems: readonly string[];
  factKeys: readonly string[];
  disabled: boolean;
}) {
  const id = fieldId(f.name);
  const describedBy = `${id}-hint ${id}-err`;
  const invalid = problems.length > 0 ? true : undefined;
  const text = typeof value === 'string' ? value : '';
  const common = {
    id,
    disabled,
    'aria-describedby': describedBy,
    'aria-invalid': invalid,
    'aria-required': f.required ? true : undefined,
  };
  const hint = [formHint(f), f.hint].filter(Boolean).join(' ');
  // Said beside the label, not in it: the input's name stays the field's own.
  const tags = (
    <>
      {f.required ? <span class="tag">required</span> : null}
      {f.inPath ? <span class="tag">in the path</span> : null}
    </>
  );
  const labelled = (
    <div class="label-row">
      <label for={id}>{f.label}</label>
      {tags}
    </div>
  );
  const under = (
    <>
      <p id={`${id}-hint`} class="hint muted">
        <code>{f.name}</code> {hint}
      </p>
      <FieldError id={`${id}-err`} problems={problems} />
    </>
  );

  if (f.kind === 'boolean') {
    return (
      <div class="field">
        <div class="label-row">
          <label class="check">
            <input
              type="checkbox"
              {...common}
              checked={value === true}
              onChange={(e) => onValue(e.currentTarget.checked)}
            />{' '}
            {f.label}
          </label>
          {tags}
        </div>
        {under}
      </div>
    );
  }
  if (f.kind === 'choice') {
    return (
      <div class="field">
        {labelled}
        <select {...common} value={text} onChange={(e) => onValue(e.currentTarget.value)}>
          {f.required ? null : <option value="">(not set)</option>}
          {(f.choices ?? []).map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
        {under}
      </div>
    );
  }
  if (f.kind === 'list' || f.kind === 'mapping' || f.kind === 'json') {
    return (
      <div class="field wide">
        {labelled}
        <textarea
          {...common}
          class="mono"
          rows={3}
          value={text}
          spellcheck={false}
          onInput={(e) => onValue(e.currentTarget.value)}
        />
        {under}
      </div>
    );
  }
  if (f.secret) {
    return (
      <div class="field">
        {labelled}
        <input
          {...common}
          type="password"
          class="mono"
          value={text}
          autoComplete="new-password"
          onInput={(e) => onValue(e.currentTarget.value)}
        />
        {under}
      </div>
    );
  }
  // `@fact.` typed: the fact keys the agents know, completing what follows it.
  const completions = f.kind === 'text' ? factCompletions(text, factKeys) : [];
  const listId = `${id}-facts`;
  // Free text (a path) gets the whole row; a name or a number a column.
  const long = f.kind === 'text' && !f.schema.pattern && (f.schema.maxLength ?? 1024) > 255;
  return (
    <div class={long ? 'field wide' : 'field'}>
      {labelled}
      <input
        {...common}
        class={f.kind === 'text' ? 'mono' : undefined}
        value={text}
        spellcheck={false}
        autoComplete="off"
        inputMode={f.kind === 'integer' ? 'numeric' : undefined}
        placeholder={rangeOf(f)}
        list={completions.length > 0 ? listId : undefined}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
      {completions.length > 0 ? (
        <datalist id={listId} data-testid={`${id}-facts`}>
          {completions.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
      ) : null}
      {under}
    </div>
  );
}
