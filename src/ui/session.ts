// Signing in and out. The console holds one token, in this tab's session
// storage (gone when the tab closes), and reaches the API only through the
// SDK. A token arrives three ways: a one-time login code in the URL fragment
// (`osapi ui`), a token pasted on the login page, or this tab's earlier one.
import { OsapiApiError, OsapiClient, OsapiConnectionError, type WhoAmI } from '../sdk/client.js';

const STORAGE_KEY = 'osapi.console.token';

export interface Session {
  token: string;
  me: WhoAmI;
  client: OsapiClient;
}

/** The API is the server that served this page. */
function apiUrl(): string {
  return window.location.origin;
}

export function clientFor(token?: string): OsapiClient {
  return new OsapiClient({ url: apiUrl(), ...(token ? { token } : {}) });
}

function remember(token: string): void {
  try {
    window.sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // Storage may be off (private mode): the session lasts until a reload.
  }
}

async function sessionFor(token: string): Promise<Session> {
  const client = clientFor(token);
  const { body } = await client.authMe();
  remember(token);
  return { token, me: body, client };
}

/** Trades the one-time code of a login link for a session token. */
export async function signInWithCode(code: string): Promise<Session> {
  const { body } = await clientFor().authSession(code);
  const { token, ...me } = body;
  remember(token);
  return { token, me, client: clientFor(token) };
}

/** Checks a pasted token with the API before keeping it. */
export function signInWithToken(token: string): Promise<Session> {
  return sessionFor(token.trim());
}

/** This tab's token from before a reload, if it still works. */
export async function resumeSession(): Promise<Session | null> {
  let token: string | null = null;
  try {
    token = window.sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
  if (!token) return null;
  try {
    return await sessionFor(token);
  } catch (err) {
    if (isUnauthorized(err)) forgetSession();
    throw err;
  }
}

export function forgetSession(): void {
  try {
    window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing kept
  }
}

/** The API refused the token itself (expired, revoked key): sign in again. */
export function isUnauthorized(err: unknown): boolean {
  return err instanceof OsapiApiError && err.status === 401;
}

/** A sentence for a person: the API's own message, or why it could not be reached. */
export function describeError(err: unknown): string {
  if (err instanceof OsapiApiError) return `${err.message} (HTTP ${err.status})`;
  if (err instanceof OsapiConnectionError) {
    return 'The API did not answer. Is the server still running?';
  }
  return err instanceof Error ? err.message : String(err);
}
