// Pieces every page uses: the session's API client, loading with errors and
// refresh, state badges, copy buttons, the confirmation dialog.
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { Permission } from './access.js';
import { lacking, whyNot } from './access.js';
import { describeError, isUnauthorized, type Session } from './session.js';

export interface SessionContext extends Session {
  /** The API refused the token: back to the login page, saying why. */
  ended(err: unknown): void;
}

export const SessionCtx = createContext<SessionContext | null>(null);

export function useSession(): SessionContext {
  const s = useContext(SessionCtx);
  if (!s) throw new Error('useSession outside a signed-in console');
  return s;
}

/** What the token lacks of `needs`, and the sentence saying so ('' when nothing). */
export function useAllowed(needs: readonly Permission[]): { ok: boolean; reason: string } {
  const { me } = useSession();
  const missing = lacking(me.permissions, needs);
  return { ok: missing.length === 0, reason: whyNot(missing) };
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload(): void;
}

/**
 * Runs `load` now, again when `deps` change or reload() is called, and every
 * `everyMs` while the page is shown (a poll for a console that shows live
 * state, not a wait). The previous answer stays while the next one loads.
 */
export function useLoad<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  everyMs?: number,
): Loaded<T> {
  const { ended } = useSession();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    setLoading(true);
    load(ac.signal).then(
      (value) => {
        if (ac.signal.aborted) return;
        setData(value);
        setError(null);
        setLoading(false);
        if (everyMs) timer = setTimeout(reload, everyMs);
      },
      (err: unknown) => {
        if (ac.signal.aborted) return;
        if (isUnauthorized(err)) return ended(err);
        setError(describeError(err));
        setLoading(false);
        if (everyMs) timer = setTimeout(reload, everyMs);
      },
    );
    return () => {
      ac.abort();
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { data, error, loading, reload };
}

/** A value that follows `value` once it has stayed the same for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/** A labelled text input, laid out as every form of the console lays one out. */
export function TextField(props: {
  id: string;
  label: string;
  value: string;
  onValue(value: string): void;
  /** A search box (a filter), not a value. */
  search?: boolean;
  placeholder?: string;
  /** `mono` for paths and commands. */
  class?: string;
  inputMode?: 'numeric';
  /** For names, targets and paths: no spelling marks, no suggestions. */
  literal?: boolean;
  disabled?: boolean;
  describedBy?: string;
  invalid?: boolean;
  /** Shown under the input (a note on what it matches). */
  children?: ComponentChildren;
}) {
  const input = {
    id: props.id,
    class: props.class,
    value: props.value,
    onInput: (e: { currentTarget: { value: string } }) => props.onValue(e.currentTarget.value),
    placeholder: props.placeholder,
    inputMode: props.inputMode,
    spellcheck: props.literal ? false : undefined,
    autoComplete: props.literal ? 'off' : undefined,
    disabled: props.disabled,
    'aria-describedby': props.describedBy,
    'aria-invalid': props.invalid,
  };
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.search ? <input type="search" {...input} /> : <input {...input} />}
      {props.children}
    </div>
  );
}

/** A table that lays out as cards on a narrow screen: its caption for screen readers, its columns. */
export function CardsTable(props: {
  caption: string;
  columns: readonly string[];
  class?: string;
  children: ComponentChildren;
}) {
  return (
    <table class={props.class ? `cards ${props.class}` : 'cards'}>
      <caption class="sr-only">{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th key={c} scope="col">
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}

export function ErrorNote({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

/** A host state or job status, with its colour; words, not colour alone, carry it. */
export function Badge({ value }: { value: string }) {
  return <span class={`badge s-${value}`}>{value.replaceAll('_', ' ')}</span>;
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<'' | 'copied' | 'failed'>('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('copied');
    } catch {
      setDone('failed');
    }
  };
  return (
    <button type="button" class="small" onClick={copy} aria-label={label}>
      {done === 'copied' ? 'Copied' : done === 'failed' ? 'Copy failed' : 'Copy'}
    </button>
  );
}

/** A page the token may not use: says which permission it lacks. */
export function NotAllowed({ title, reason }: { title: string; reason: string }) {
  return (
    <section class="panel" aria-labelledby="na-title">
      <h1 id="na-title">{title}</h1>
      <p class="muted">Not available: this page {reason}.</p>
    </section>
  );
}

/**
 * A modal confirmation: the browser's own <dialog>, so focus stays inside
 * and Escape closes it. The safe choice has the focus first.
 */
export function Confirm(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel?: string;
  /** The confirm button waits (for a word typed, before a change of every host). */
  confirmDisabled?: boolean;
  onConfirm(): void;
  onCancel(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const back = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) {
      d.showModal();
      back.current?.focus();
    } else if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby="confirm-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id="confirm-title">{props.title}</h2>
      <div class="dialog-body">{props.children}</div>
      <div class="actions">
        <button type="button" ref={back} onClick={props.onCancel}>
          Back
        </button>
        {props.confirmLabel ? (
          <button
            type="button"
            class="primary"
            disabled={props.confirmDisabled}
            onClick={props.onConfirm}
          >
            {props.confirmLabel}
          </button>
        ) : null}
      </div>
    </dialog>
  );
}

export function Pager(props: {
  offset: number;
  limit: number;
  total: number;
  onPage(offset: number): void;
}) {
  const { offset, limit, total } = props;
  const last = Math.min(offset + limit, total);
  return (
    <nav class="pager" aria-label="Pages">
      <button
        type="button"
        disabled={offset === 0}
        onClick={() => props.onPage(Math.max(0, offset - limit))}
      >
        Newer
      </button>
      <span>{total === 0 ? 'none' : `${offset + 1}–${last} of ${total}`}</span>
      <button type="button" disabled={last >= total} onClick={() => props.onPage(offset + limit)}>
        Older
      </button>
    </nav>
  );
}
