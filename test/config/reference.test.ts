import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfigReference } from '../../src/config/reference.js';

describe('docs/configuration.md', () => {
  it('lists every config key exactly as the schema has it (regenerate: node --import tsx scripts/config-docs.ts)', () => {
    const doc = readFileSync(
      join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'),
      'utf8',
    );
    expect(doc).toContain(renderConfigReference());
    expect(doc).toContain('`api.server.port` | `OSAPI_API_SERVER_PORT` | `8080`');
  });
});
