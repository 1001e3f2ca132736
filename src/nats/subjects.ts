// NATS's own subjects (JetStream API, KV streams and subjects, inboxes) are
// spelled in src/names/names.ts; re-exported here for the modules that
// import them from this path. Nothing is spelled here.
export {
  API_INBOX_PREFIX,
  JS_API,
  KV_OPERATION_HEADER,
  kvKeys,
  kvStream,
  kvSubject,
} from '../names/names.js';
