// What each pattern of a request schema means, in words: a regular expression
// says little to the person whose request it refused. The API's 400s, the
// checks shared with the CLI (src/job/data-checks.ts) and the console's forms
// all say it from here; test/contract/pattern-messages.test.ts holds every
// pattern of every operation's input to having its words.
import { AGENT_NAME_EXPECTED, AGENT_NAME_PATTERN } from './agent-name.js';
import { CERTIFICATE_NAME_EXPECTED, CERTIFICATE_NAME_PATTERN } from './certificate.js';
import { COMMAND_PATTERN, ENV_NAME_PATTERN, NO_NUL_PATTERN, USER_PATTERN } from './command.js';
import { CRON_NAME_EXPECTED, CRON_NAME_PATTERN } from './cron.js';
import { DOCKER_PATTERN_MESSAGES } from './docker.js';
import {
  FILE_MODE_PATTERN,
  FILE_OWNER_PATTERN,
  OBJECT_NAME_EXPECTED,
  OBJECT_NAME_PATTERN,
  TEMPLATE_VAR_PATTERN,
} from './file.js';
import { HOST_NAME_EXPECTED, HOST_NAME_PATTERN } from './hostname.js';
import {
  LOG_GREP_EXPECTED,
  LOG_GREP_PATTERN,
  LOG_PRIORITY_EXPECTED,
  LOG_PRIORITY_PATTERN,
  LOG_SINCE_EXPECTED,
  LOG_SINCE_PATTERN,
  LOG_UNIT_EXPECTED,
  LOG_UNIT_PATTERN,
} from './log.js';
import { NETWORK_INTERFACE_EXPECTED, NETWORK_INTERFACE_PATTERN } from './network.js';
import { INTERFACE_EXPECTED, INTERFACE_NAME_PATTERN } from './node-operations.js';
import {
  PACKAGE_NAME_EXPECTED,
  PACKAGE_NAME_PATTERN,
  PACKAGE_VERSION_EXPECTED,
  PACKAGE_VERSION_PATTERN,
} from './package.js';
import { POWER_MESSAGE_EXPECTED, POWER_MESSAGE_PATTERN } from './power.js';
import { PERCENT_PATTERN } from './rollout.js';
import {
  SYSCTL_KEY_EXPECTED,
  SYSCTL_KEY_PATTERN,
  SYSCTL_VALUE_EXPECTED,
  SYSCTL_VALUE_PATTERN,
} from './sysctl.js';
import { TIMEZONE_EXPECTED, TIMEZONE_PATTERN } from './timezone.js';
import {
  ACCOUNT_NAME_EXPECTED,
  ACCOUNT_NAME_PATTERN,
  SSH_FINGERPRINT_EXPECTED,
  SSH_FINGERPRINT_PATTERN,
} from './users.js';

const MESSAGES: ReadonlyMap<string, string> = new Map([
  // First: where Docker's fields share a pattern with the commands', the commands' words stand.
  ...Object.entries(DOCKER_PATTERN_MESSAGES),
  [COMMAND_PATTERN, 'must not be blank or contain NUL bytes'],
  [NO_NUL_PATTERN, 'must not contain NUL bytes'],
  [ENV_NAME_PATTERN, 'must be letters, digits and _, starting with a letter or _'],
  [
    USER_PATTERN,
    'must be a login name of letters, digits, _, . and -, starting with a letter or _',
  ],
  [PERCENT_PATTERN, 'must be a whole number or a percentage such as "10%"'],
  [INTERFACE_NAME_PATTERN, INTERFACE_EXPECTED],
  [NETWORK_INTERFACE_PATTERN, NETWORK_INTERFACE_EXPECTED],
  [OBJECT_NAME_PATTERN, OBJECT_NAME_EXPECTED],
  [TEMPLATE_VAR_PATTERN, 'must be a letter or _, then letters, digits or _ (at most 64)'],
  [FILE_MODE_PATTERN, 'must be an octal file mode such as 0644 or 0755'],
  [FILE_OWNER_PATTERN, 'must be a user or group name (a-z, 0-9, _ and -) or a number'],
  [PACKAGE_NAME_PATTERN, PACKAGE_NAME_EXPECTED],
  [PACKAGE_VERSION_PATTERN, PACKAGE_VERSION_EXPECTED],
  [TIMEZONE_PATTERN, TIMEZONE_EXPECTED],
  [HOST_NAME_PATTERN, HOST_NAME_EXPECTED],
  [AGENT_NAME_PATTERN, AGENT_NAME_EXPECTED],
  [POWER_MESSAGE_PATTERN, POWER_MESSAGE_EXPECTED],
  [CERTIFICATE_NAME_PATTERN, CERTIFICATE_NAME_EXPECTED],
  [LOG_SINCE_PATTERN, LOG_SINCE_EXPECTED],
  [LOG_PRIORITY_PATTERN, LOG_PRIORITY_EXPECTED],
  [LOG_GREP_PATTERN, LOG_GREP_EXPECTED],
  [LOG_UNIT_PATTERN, LOG_UNIT_EXPECTED],
  [CRON_NAME_PATTERN, CRON_NAME_EXPECTED],
  [SYSCTL_KEY_PATTERN, SYSCTL_KEY_EXPECTED],
  [SYSCTL_VALUE_PATTERN, SYSCTL_VALUE_EXPECTED],
  [ACCOUNT_NAME_PATTERN, ACCOUNT_NAME_EXPECTED],
  [SSH_FINGERPRINT_PATTERN, SSH_FINGERPRINT_EXPECTED],
]);

/** What `pattern` asks for, in words; undefined for a pattern no schema of ours uses. */
export function patternMessage(pattern: unknown): string | undefined {
  return typeof pattern === 'string' ? MESSAGES.get(pattern) : undefined;
}
