// Renders the configuration reference (docs/configuration.md's key table)
// from the schema itself, so the documentation cannot drift from what the
// loader accepts. A test compares it with the committed file.
import { configKeys } from './keys.js';

export function renderConfigReference(): string {
  const rows = configKeys().map((k) => {
    const def = k.secret && k.default ? '(secret)' : JSON.stringify(k.default);
    return `| \`${k.path}\` | \`${k.env}\` | \`${def}\` | ${k.description.replaceAll('|', '\\|')} |`;
  });
  return ['| key | environment variable | default | meaning |', '|---|---|---|---|', ...rows].join(
    '\n',
  );
}
