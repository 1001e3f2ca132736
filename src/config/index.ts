// Public entry of the configuration module: the schema and types, the loader, key listing,
// duration helpers and redaction.
export { DURATION_PATTERN, formatDuration, parseDuration } from './duration.js';
export { CONFIG_FILE_ENV, configKeys, envName, type LeafKey, type LeafKind } from './keys.js';
export {
  ConfigError,
  DEFAULT_CONFIG_FILE,
  defaultConfig,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
} from './load.js';
export { REDACTED, redactConfig, redactUrl, redactValue } from './redact.js';
export {
  type Config,
  type ConfigFile,
  ConfigSchema,
  Duration,
  type NatsAuthConfig,
  type NatsClientConfig,
  SECRET_KEYS,
} from './schema.js';
