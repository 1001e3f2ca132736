// Sign in with a token, for every install but the quick start's `osapi ui`
// link. The token is checked with the API before it is kept.
import { useState } from 'preact/hooks';
import { describeError, type Session, signInWithToken } from '../session.js';

export function LoginPage(props: { message?: string; onSignedIn(session: Session): void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!token.trim()) {
      setError('Paste a token first.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await signInWithToken(token));
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login">
      <h1>OSAPI console</h1>
      {props.message ? (
        <p class="note" role="status">
          {props.message}
        </p>
      ) : null}
      <form onSubmit={submit} class="panel">
        <label for="token">Token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-describedby="token-help"
          // biome-ignore lint/a11y/noAutofocus: the page's one field; a keyboard user starts here
          autoFocus
        />
        <p id="token-help" class="muted">
          On the machine running <code>osapi start</code>, <code>osapi ui</code> prints a one-time
          link that signs you in. Elsewhere, paste a token from <code>osapi token generate</code>.
          It stays in this tab only.
        </p>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
