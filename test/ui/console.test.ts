// The web console in a real browser (Debian's chromium, driven by
// playwright-core) against a real system: nats-server, the API serving the
// console built from src/ui, and three agents. Each step waits for what the
// page shows, never for time; screenshots of each page go to
// test-output/ui/ for a person to look at.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLocalClient } from '../../src/state/local.js';
import { childEnv, ROOT, runOsapi } from '../cli/helpers.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-output', 'ui');
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };

let sys: TestSystem;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let work: string;
/** The file whose existence lets the test's command go on. */
let gate: string;

/**
 * Waits until the output shows at least `n` lines holding `text`. Locators
 * only: the console's content policy allows no script from strings.
 */
async function waitForLines(p: Page, text: string, n: number): Promise<void> {
  await p
    .getByTestId('output')
    .locator('.line')
    .filter({ hasText: text })
    .nth(n - 1)
    .waitFor();
}

/** The text of the element that has the keyboard focus. */
function focused(p: Page): Promise<string | null> {
  return p.locator(':focus').textContent();
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The same page at phone width, then back: readable at 390 px too. */
async function shotNarrow(p: Page, name: string): Promise<void> {
  await p.setViewportSize(NARROW);
  await shot(p, `${name}-390`);
  await p.setViewportSize(WIDE);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the console tests need Chromium at ${CHROMIUM}: apt-get install chromium (setup does it for npm test), or set CHROMIUM_PATH`,
    );
  }
  work = mkdtempSync(join(tmpdir(), 'osapi-ui-'));
  gate = join(work, 'gate');
  const consoleDir = join(work, 'console');
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-ui.mjs'), '--out', consoleDir], {
    stdio: 'ignore',
  });
  mkdirSync(SHOTS, { recursive: true });
  sys = await startTestSystem({ consoleDir });
  await Promise.all([
    sys.startAgent('web-01', { group: 'web' }),
    sys.startAgent('web-02', { group: 'web.dev' }),
    sys.startAgent('db-01', { group: 'db' }),
  ]);
  await sys.waitForAgents(['db-01', 'web-01', 'web-02']);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Chromium's sandbox needs user namespaces a container or root may not have.
    args: ['--no-sandbox'],
  });
  context = await browser.newContext({ viewport: WIDE, colorScheme: 'light' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: sys.url });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the web console', () => {
  it('signs in with the one-time link `osapi ui` prints, which works once', async () => {
    // As on the quick start: the local client file `osapi start` leaves.
    const stateDir = join(work, 'state');
    writeLocalClient(stateDir, { url: sys.url, token: await sys.token(['admin']) });
    const r = await runOsapi(['ui'], { env: childEnv(stateDir), timeoutMs: 15_000 });
    expect(r.stderr).toMatch(/within 2 minutes/);
    expect(r.code).toBe(0);
    const link = r.stdout.trim();
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ui\/#login=[0-9a-f]{32}[A-Za-z0-9_-]{43}$/);

    await page.goto(link);
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    expect(await page.getByText('tester@example.com').isVisible()).toBe(true);
    // The spent code is out of the address bar and history.
    expect(page.url()).not.toContain('login=');

    const again = await context.newPage();
    await again.goto(link.replace('127.0.0.1', 'localhost'));
    await again.getByText(/already used or has expired/).waitFor();
    await shot(again, 'login-used-link');
    await again.close();
  });

  it('shows the fleet: three agents, and the agents a typed target matches', async () => {
    await page.goto(`${sys.url}/ui/#/fleet`);
    await page.getByText('3 agents, 3 Ready').waitFor();
    const rows = page.locator('table tbody tr');
    expect(await rows.count()).toBe(3);
    for (const h of ['web-01', 'web-02', 'db-01']) {
      expect(await page.getByRole('rowheader', { name: h }).count()).toBe(1);
    }
    await page.getByLabel('Target preview').fill('group:web');
    const match = page.getByTestId('match-count');
    await match.getByText('2 agents match group:web: web-01, web-02').waitFor();
    await page.getByLabel('Target preview').fill('group:nope/');
    await match.getByText(/invalid|target/i).waitFor();
    await page.getByLabel('Target preview').fill('group:web');
    await match.getByText('2 agents match group:web').waitFor();
    await page.getByLabel('Filter by name or label').fill('db');
    await page.locator('table tbody tr').nth(1).waitFor({ state: 'detached' });
    expect(await page.locator('table tbody tr').count()).toBe(1);
    await shot(page, 'fleet');
    await page.getByLabel('Filter by name or label').fill('');
    await shotNarrow(page, 'fleet');
  });

  it('drains and undrains an agent, and accepts one whose key waits', async () => {
    const token = await sys.token(['admin']);
    const stateOf = async (h: string) =>
      (await request(sys, 'GET', `/agent/${h}`, undefined, token)).body.state;
    // Exact names: a role's name matches by substring otherwise, and "Drain
    // web-02" is within "Undrain web-02".
    const action = (name: string) => page.getByRole('button', { name, exact: true });
    await page.goto(`${sys.url}/ui/#/fleet`);
    await action('Drain web-02').click();
    await action('Undrain web-02').waitFor();
    expect(['Draining', 'Cordoned']).toContain(await stateOf('web-02'));
    await action('Undrain web-02').click();
    await action('Drain web-02').waitFor();
    expect(await stateOf('web-02')).toBe('Ready');
    // A key rejected elsewhere: the console offers to accept it.
    await request(sys, 'POST', '/agent/db-01/reject', undefined, token);
    await action('Accept db-01').click({ timeout: 15_000 });
    await action('Drain db-01').waitFor();
    expect(await stateOf('db-01')).toBe('Ready');
  });

  it('runs a shell command on _all from the keyboard and shows the first lines before it ends', async () => {
    await page.goto(`${sys.url}/ui/#/run`);
    await page.getByLabel('Target').fill('_all');
    await page.getByTestId('match-count').getByText('3 agents match _all').waitFor();
    // Prints, waits (until the test lets it go on), prints.
    await page
      .getByLabel('Command line')
      .fill(`echo first; while [ ! -e ${gate} ]; do sleep 0.1; done; echo second`);
    await page.getByLabel('Command line').press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: 'Run on 3 hosts?' }).waitFor();
    expect(await dialog.textContent()).toContain('db-01, web-01, web-02');
    await shot(page, 'run-confirm');
    // The safe choice has the focus; the next one runs it.
    expect(await focused(page)).toBe('Back');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('Run on 3 hosts');
    await page.keyboard.press('Enter');

    const output = page.getByTestId('output');
    await waitForLines(page, 'first', 3);
    const before = await output.textContent();
    expect(before).not.toContain('second');
    await page.getByTestId('summary').getByText('3 hosts: 3 running').waitFor();
    await shot(page, 'run-live');

    writeFileSync(gate, '');
    await page.getByTestId('summary').getByText('3 hosts: 3 succeeded').waitFor();
    await waitForLines(page, 'second', 3);
    expect(await page.locator('[data-testid=host-state]').allTextContents()).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    await shot(page, 'run-done');
    await page.getByLabel('Group identical output').check();
    await page.getByTestId('grouped-output').waitFor();
    await shotNarrow(page, 'run-done');
  });

  it('cancels a long command and shows each host cancelled', async () => {
    await page.goto(`${sys.url}/ui/#/fleet`);
    await page.goto(`${sys.url}/ui/#/run`);
    await page.getByLabel('Target').fill('_all');
    await page.getByLabel('Command line').fill('sleep 120');
    await page.getByRole('button', { name: 'Run…' }).click();
    await page.getByRole('button', { name: 'Run on 3 hosts' }).click();
    await page.getByTestId('summary').getByText('3 hosts: 3 running').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByTestId('summary').getByText('3 hosts: 3 cancelled').waitFor();
    await shot(page, 'run-cancelled');
  });

  it('opens the job detail: hosts, whole output with copy, timeline, retry', async () => {
    await page.goto(`${sys.url}/ui/#/jobs`);
    await page.getByRole('rowheader').first().waitFor();
    await shot(page, 'jobs');
    await shotNarrow(page, 'jobs');
    // Newest first: the cancelled sleep, then the shell command that printed.
    const links = page.locator('table tbody tr th a');
    expect(await links.count()).toBe(2);
    await links.nth(1).click();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await page.getByTestId('stdout-web-01').getByText('second').waitFor();
    expect(await page.getByTestId('stdout-web-01').textContent()).toBe('first\nsecond\n');
    expect(await page.locator('ol.timeline li').count()).toBeGreaterThanOrEqual(6);
    await page.getByRole('button', { name: 'Copy stdout of web-01' }).click();
    await page.getByRole('button', { name: 'Copy stdout of web-01' }).getByText('Copied').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe('first\nsecond\n');
    await shot(page, 'job-detail');
    await shotNarrow(page, 'job-detail');
    // Retry makes a new job of the same command and opens it, followed until it ends.
    rmSync(gate);
    const first = page.url();
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.waitForURL((u) => u.toString() !== first);
    await page.getByTestId('summary').getByText('3 hosts: 3 running').waitFor();
    writeFileSync(gate, '');
    await page.getByTestId('summary').getByText('3 hosts: 3 succeeded').waitFor();
  });

  it('shows the audit entries of the requests just made', async () => {
    await sys.api.audit.flush();
    await page.goto(`${sys.url}/ui/#/audit`);
    await page.getByText('POST /node/_all/command/shell').first().waitFor();
    await page
      .getByText(/POST \/job\/[0-9a-f-]+\/cancel/)
      .first()
      .waitFor();
    await page.getByText('POST /auth/session').first().waitFor();
    await page.getByLabel('Response code').selectOption('4xx');
    await page
      .locator('td[data-label=Code]')
      .filter({ hasNotText: /^4/ })
      .first()
      .waitFor({ state: 'detached' });
    expect(await page.locator('td[data-label=Code]').count()).toBeGreaterThan(0);
    await page.getByLabel('Response code').selectOption('');
    await page.getByLabel('User').fill('tester');
    await shot(page, 'audit');
    await shotNarrow(page, 'audit');
  });

  it('offers a read token no Run page, and says why', async () => {
    const dark = await browser.newContext({ viewport: WIDE, colorScheme: 'dark' });
    const p = await dark.newPage();
    p.setDefaultTimeout(15_000);
    await p.goto(`${sys.url}/ui/`);
    await p.getByLabel('Token').fill(await sys.token(['read']));
    await shot(p, 'login-dark');
    await p.getByLabel('Token').press('Enter');
    const nav = p.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Fleet' }).waitFor();
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Fleet', 'Operations', 'Jobs']);
    await p.getByText(/Run \(needs command:execute/).waitFor();
    await p.goto(`${sys.url}/ui/#/run`);
    await p.getByText(/Not available: this page needs command:execute/).waitFor();
    expect(await p.getByLabel('Command line').count()).toBe(0);
    await shot(p, 'read-token-run-dark');
    await p.goto(`${sys.url}/ui/#/fleet`);
    await p.getByText('3 agents, 3 Ready').waitFor();
    await shot(p, 'fleet-dark');
    await dark.close();
  });
});
