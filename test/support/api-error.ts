// The ApiError a call or a promise is refused with; fails the test when it
// succeeds or throws anything else.
import { ApiError } from '../../src/api/errors.js';

export async function apiRefusal(p: Promise<unknown> | (() => unknown)): Promise<ApiError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}
