// The console's frame: signing in (a login link's code, a pasted token, or
// this tab's earlier session), the navigation offering only the pages the
// token allows, and the page the URL's fragment names.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { allowedPages, PAGES, type PageId, pageWhyNot } from './access.js';
import { NotAllowed, type SessionContext, SessionCtx } from './components.js';
import { AuditPage } from './pages/audit.js';
import { FleetPage } from './pages/fleet.js';
import { HostPage } from './pages/host.js';
import { JobPage } from './pages/job.js';
import { JobsPage } from './pages/jobs.js';
import { LoginPage } from './pages/login.js';
import { OperationsPage } from './pages/operations.js';
import { RunPage } from './pages/run.js';
import { href, loginCodeIn, parseRoute, type Route } from './router.js';
import {
  describeError,
  forgetSession,
  isUnauthorized,
  resumeSession,
  type Session,
  signInWithCode,
} from './session.js';

type State =
  | { kind: 'starting' }
  | { kind: 'signed-out'; message?: string }
  | { kind: 'signed-in'; session: Session };

const USED_LINK =
  'This login link was already used or has expired. Run `osapi ui` for a new one, or sign in with a token.';

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function App() {
  const [state, setState] = useState<State>({ kind: 'starting' });
  const signOut = useCallback((message?: string) => {
    forgetSession();
    setState({ kind: 'signed-out', ...(message ? { message } : {}) });
  }, []);

  useEffect(() => {
    const code = loginCodeIn(window.location.hash);
    if (code) {
      // The code is spent by the exchange: keep it out of history and bookmarks at once.
      window.history.replaceState(null, '', `${window.location.pathname}#/`);
      signInWithCode(code).then(
        (session) => setState({ kind: 'signed-in', session }),
        (err: unknown) =>
          setState({
            kind: 'signed-out',
            message: isUnauthorized(err) ? USED_LINK : describeError(err),
          }),
      );
      return;
    }
    resumeSession().then(
      (session) => setState(session ? { kind: 'signed-in', session } : { kind: 'signed-out' }),
      (err: unknown) =>
        setState({
          kind: 'signed-out',
          message: isUnauthorized(err)
            ? 'Your session has ended; sign in again.'
            : describeError(err),
        }),
    );
  }, []);

  if (state.kind === 'starting') {
    return (
      <p class="starting" aria-live="polite">
        Signing in…
      </p>
    );
  }
  if (state.kind === 'signed-out') {
    return (
      <LoginPage
        {...(state.message ? { message: state.message } : {})}
        onSignedIn={(session) => setState({ kind: 'signed-in', session })}
      />
    );
  }
  return <Console session={state.session} signOut={signOut} />;
}

function Console({ session, signOut }: { session: Session; signOut(message?: string): void }) {
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const pages = allowedPages(session.me.permissions);
  const hidden = PAGES.filter((p) => !pages.includes(p));
  // One value per session, so pages that follow a job are not restarted by a new place.
  const ctx: SessionContext = useMemo(
    () => ({
      ...session,
      ended: (err: unknown) =>
        signOut(
          `Your session has ended (${describeError(err)}); sign in again, or run \`osapi ui\` for a new link.`,
        ),
    }),
    [session, signOut],
  );

  // The session token has an end: sign out then rather than fail call by call.
  useEffect(() => {
    const left = Date.parse(session.me.expires_at) - Date.now();
    const t = setTimeout(
      () => signOut('Your session has expired; sign in again.'),
      Math.min(Math.max(left, 0), 2 ** 31 - 1),
    );
    return () => clearTimeout(t);
  }, [session, signOut]);

  // A new place gets the focus, so a keyboard or screen reader starts there.
  useEffect(() => {
    if (first.current) first.current = false;
    else main.current?.focus();
  }, [route.page, route.page === 'job' ? route.id : route.page === 'host' ? route.hostname : '']);

  const current: PageId | null =
    route.page === 'home'
      ? (pages[0]?.id ?? null)
      : route.page === 'job'
        ? 'jobs'
        : route.page === 'host'
          ? 'fleet'
          : route.page;

  useEffect(() => {
    const title = PAGES.find((p) => p.id === current)?.title ?? 'Console';
    document.title = `${title} · OSAPI`;
  }, [current]);

  return (
    <SessionCtx.Provider value={ctx}>
      {/* A button, not a #main link: the fragment holds the console's place. */}
      <button type="button" class="skip" onClick={() => main.current?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">OSAPI</span>
        <nav aria-label="Main">
          <ul>
            {pages.map((p) => (
              <li key={p.id}>
                <a href={href(p.id)} aria-current={current === p.id ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title={`roles: ${session.me.roles.join(', ')}`}>
            {session.me.subject} <span class="muted">({session.me.roles.join(', ')})</span>
          </span>
          <button type="button" class="small" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page route={route} current={current} granted={session.me.permissions} />
      </main>
      {hidden.length > 0 ? (
        <footer class="muted">
          Not offered to this token:{' '}
          {hidden.map((p, i) => (
            <span key={p.id}>
              {i > 0 ? '; ' : ''}
              {p.title} ({pageWhyNot(session.me.permissions, p)})
            </span>
          ))}
          .
        </footer>
      ) : null}
    </SessionCtx.Provider>
  );
}

function Page({
  route,
  current,
  granted,
}: {
  route: Route;
  current: PageId | null;
  granted: readonly string[];
}) {
  if (current === null) {
    return <NotAllowed title="Nothing to show" reason="needs a token with more permissions" />;
  }
  const info = PAGES.find((p) => p.id === current);
  const reason = info ? pageWhyNot(granted, info) : '';
  if (info && reason) return <NotAllowed title={info.title} reason={reason} />;
  switch (current) {
    case 'fleet':
      // Keyed by name: another host starts afresh.
      return route.page === 'host' ? (
        <HostPage key={route.hostname} hostname={route.hostname} />
      ) : (
        <FleetPage />
      );
    case 'run':
      return <RunPage />;
    case 'operations':
      // Keyed by its place: a link to another operation or target starts afresh.
      return <OperationsPage key={route.params.toString()} params={route.params} />;
    case 'jobs':
      // Keyed by id: another job (after Retry) starts afresh, polling until it ends.
      return route.page === 'job' ? (
        <JobPage key={route.id} id={route.id} />
      ) : (
        <JobsPage params={route.params} />
      );
    case 'audit':
      return <AuditPage />;
  }
}
