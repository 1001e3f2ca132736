// The console's Operations page and a host's page in a real browser (Debian's
// chromium, driven by playwright-core) against a real system: nats-server,
// the API serving the console built from src/ui, and two agents, web-01 with
// a stand-in systemctl (test/support/fake-systemd.ts) and web-02 with this
// machine's (which finds no systemd). Each step waits for what the page
// shows, never for time; screenshots go to test-output/ui/.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentedRoute, OPERATIONS, type OperationType } from '../../src/contract/operations.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { hostReads } from '../../src/ui/host-reads.js';
import { type FakeSystemd, makeFakeSystemd, unitFile } from '../support/fake-systemd.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-output', 'ui');
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };
const HOSTS = ['web-01', 'web-02'];

let sys: TestSystem;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let work: string;
/** Where the deployment tests write: a temp dir, one file per host. */
let files: string;
let fake: FakeSystemd;
const object = `osapitest-${randomBytes(4).toString('hex')}`;
const unit = `osapitest-${randomBytes(4).toString('hex')}.service`;

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function shotNarrow(p: Page, name: string): Promise<void> {
  await p.setViewportSize(NARROW);
  await shot(p, `${name}-390`);
  await p.setViewportSize(WIDE);
}

/** A new tab of its own signed in with `token` on the login page. */
async function signIn(ctx: BrowserContext, token: string): Promise<Page> {
  const p = await ctx.newPage();
  p.setDefaultTimeout(15_000);
  await p.goto(`${sys.url}/ui/`);
  await p.getByLabel('Token').fill(token);
  await p.getByLabel('Token').press('Enter');
  await p.getByRole('navigation', { name: 'Main' }).waitFor();
  return p;
}

/** Opens the Operations page on `type`, with `target` typed and its match shown. */
async function open(p: Page, type: OperationType, target: string): Promise<void> {
  await p.goto(`${sys.url}/ui/#/operations`);
  await p.getByLabel('Operation', { exact: true }).selectOption(type);
  await p.getByTestId('op-about').getByText(documentedRoute(OPERATIONS[type])).waitFor();
  await p.getByLabel('Target').fill(target);
  await p.getByTestId('match-count').getByText(`${target}:`).waitFor();
}

/** The status badges of the answer's rows, host by host. */
function statuses(p: Page): Promise<string[]> {
  return p.locator('[data-testid=op-status]').allTextContents();
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the console tests need Chromium at ${CHROMIUM}: apt-get install chromium (setup does it for npm test), or set CHROMIUM_PATH`,
    );
  }
  work = mkdtempSync(join(tmpdir(), 'osapi-ui-ops-'));
  files = join(work, 'files');
  mkdirSync(files);
  const consoleDir = join(work, 'console');
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-ui.mjs'), '--out', consoleDir], {
    stdio: 'ignore',
  });
  mkdirSync(SHOTS, { recursive: true });
  fake = makeFakeSystemd();
  fake.addPackagedUnit('web.service', unitFile({ description: 'the web server' }), {
    active: 'active',
    enabled: 'enabled',
    pid: 4242,
  });
  fake.addPackagedUnit(unit, unitFile({ description: 'a throwaway unit' }));
  sys = await startTestSystem({ consoleDir });
  await Promise.all([
    sys.startAgent(
      'web-01',
      { group: 'web' },
      { services: { unit_dir: fake.unitDir } },
      { systemctl: fake.systemctl },
    ),
    sys.startAgent('web-02', { group: 'web' }),
  ]);
  await sys.waitForAgents(HOSTS);
  const client = new OsapiClient({ url: sys.url, token: await sys.token(['admin']) });
  await client.fileUpload(object, new TextEncoder().encode('listen = 8080\n'));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  context = await browser.newContext({ viewport: WIDE, colorScheme: 'light' });
  page = await signIn(context, await sys.token(['admin']));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
  fake?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the Operations page', () => {
  it('is in the navigation, and runs a read on _all: a row per agent with its fields', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Operations' }).click();
    await page.getByRole('heading', { name: 'Operations' }).waitFor();
    await open(page, 'node.hostname.get', '_all');
    await page
      .getByTestId('match-count')
      .getByText('2 agents match _all: web-01, web-02')
      .waitFor();
    const about = await page.getByTestId('op-about').textContent();
    expect(about).toContain('GET /node/{target}/hostname');
    expect(about).toContain('node:read');
    expect(await page.getByText('This operation takes nothing but its target.').count()).toBe(1);
    // A read runs at once: no confirmation.
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByTestId('op-summary').getByText('2 hosts: 2 completed').waitFor();
    const rows = page.locator('table.op-results > tbody > tr');
    expect(await rows.locator('th').allTextContents()).toEqual(HOSTS);
    for (const h of HOSTS) {
      const row = page.locator(`table.op-results tr[data-host="${h}"]`);
      expect(await row.locator('td[data-label=labels]').textContent()).toContain('groupweb');
      expect(await row.locator('td[data-label=os_hostname]').textContent()).not.toBe('');
    }
    expect(await statuses(page)).toEqual(['completed', 'completed']);
    // The place names the operation, so a reload or a shared link opens it again.
    expect(page.url()).toContain('#/operations?op=node.hostname.get');
    await shot(page, 'operations-read');
    await shotNarrow(page, 'operations-read');
  });

  it('shows nested lists folded, and a host without the tool as skipped with why', async () => {
    await open(page, 'service.list', '_all');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page
      .getByTestId('op-summary')
      .getByText(/^2 hosts: /)
      .waitFor();
    expect(await statuses(page)).toEqual(['ok', 'skipped']);
    const two = page.locator('table.op-results tr[data-host="web-02"]');
    expect(await two.locator('td[data-label=Error]').textContent()).toMatch(/systemd/);
    const one = page.locator('table.op-results tr[data-host="web-01"]');
    const folded = one.locator('details');
    await folded
      .locator('summary')
      .getByText(/^\d+ services$/)
      .click();
    await folded.locator('table.inner').getByText('web.service').waitFor();
    expect(await folded.locator('table.inner').textContent()).toContain('the web server');
    await shot(page, 'operations-nested');
  });

  it('deploys an uploaded object on _all after a stronger confirmation, then says nothing changed', async () => {
    await open(page, 'file.deploy', '_all');
    await page.getByLabel('Object name').fill(object);
    // `@fact.` typed: the fact keys are offered to complete it.
    const path = page.getByLabel('Path', { exact: true });
    await path.fill(`${files}/app-@fact.`);
    const facts = page.getByTestId('op-field-path-facts');
    await facts
      .locator(`option[value="${files}/app-@fact.hostname"]`)
      .waitFor({ state: 'attached' });
    await path.fill(`${files}/app-@fact.hostname`);
    expect(await page.getByLabel('Content type').inputValue()).toBe('raw');
    await page.getByText('Rate control (broadcasts)').click();
    await page.getByLabel('Max concurrency').fill('1');
    await page.getByRole('button', { name: 'Run…' }).click();

    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: 'Change ALL 2 hosts?' }).waitFor();
    expect(await dialog.textContent()).toContain('POST /node/_all/file/deploy');
    expect(await dialog.textContent()).toContain('"max_concurrency": 1');
    const confirm = dialog.getByRole('button', { name: 'Run on 2 hosts' });
    // Every host: the button waits for _all to be typed.
    expect(await confirm.isDisabled()).toBe(true);
    await shot(page, 'operations-confirm-all');
    await dialog.getByLabel(/Type _all to confirm/).fill('_all');
    await confirm.click();
    await page.getByTestId('op-summary').getByText('2 hosts: 2 ok; 2 changed').waitFor();
    expect(await statuses(page)).toEqual(['ok', 'ok']);
    expect(await page.locator('[data-testid=op-changed]').allTextContents()).toEqual([
      'yes',
      'yes',
    ]);
    for (const h of HOSTS) {
      expect(readFileSync(join(files, `app-${h}`), 'utf8')).toBe('listen = 8080\n');
    }
    await shot(page, 'operations-change');

    // The same again: each host already holds it.
    await page.getByRole('button', { name: 'Run…' }).click();
    await dialog.getByLabel(/Type _all to confirm/).fill('_all');
    await dialog.getByRole('button', { name: 'Run on 2 hosts' }).click();
    await page.getByTestId('op-summary').getByText('2 hosts: 2 ok; 0 changed').waitFor();
    expect(await page.locator('[data-testid=op-changed]').allTextContents()).toEqual(['no', 'no']);
  });

  it('reads each deployed file as in-sync, a file status beside its hosts', async () => {
    await open(page, 'file.status', 'group:web');
    await page.getByLabel('Path', { exact: true }).fill(`${files}/app-@fact.hostname`);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByTestId('op-summary').getByText('2 hosts: 2 in-sync').waitFor();
    const row = page.locator('table.op-results tr[data-host="web-01"]');
    expect(await row.locator('td[data-label=object_name]').textContent()).toBe(object);
  });

  it("checks the form before sending, and shows the API's 400 next to its field", async () => {
    await open(page, 'file.deploy', 'web-01');
    // Checked here: nothing is sent.
    await page.getByLabel('Path', { exact: true }).fill('/tmp/x');
    await page.getByLabel('Mode').fill('9x');
    await page.getByRole('button', { name: 'Run…' }).click();
    await page.locator('#op-field-mode-err').getByText('mode must be an octal file mode').waitFor();
    await page.locator('#op-field-object_name-err').getByText('object_name is required').waitFor();
    expect(await page.getByLabel('Mode').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByRole('dialog').isVisible()).toBe(false);
    // The first field at fault has the focus.
    expect(await page.locator(':focus').getAttribute('id')).toBe('op-field-object_name');

    // Refused by the API: a path must be absolute, which no schema says.
    await open(page, 'file.status', 'web-01');
    await page.getByLabel('Path', { exact: true }).fill('etc/motd');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.locator('#op-field-path-err').getByText('path must be an absolute path').waitFor();
    expect(await page.getByLabel('Path', { exact: true }).getAttribute('aria-invalid')).toBe(
      'true',
    );
    await shot(page, 'operations-400');
  });

  it('offers an operation the token lacks disabled, saying why', async () => {
    const dark = await browser.newContext({ viewport: WIDE, colorScheme: 'dark' });
    try {
      const p = await signIn(dark, await sys.token(['read']));
      const nav = p.getByRole('navigation', { name: 'Main' });
      expect(await nav.getByRole('link').allTextContents()).toEqual([
        'Fleet',
        'Operations',
        'Jobs',
      ]);
      await p.goto(`${sys.url}/ui/#/operations`);
      const deploy = p.locator('#op-pick option[value="file.deploy"]');
      await deploy.waitFor({ state: 'attached' });
      expect(await deploy.isDisabled()).toBe(true);
      expect(await deploy.textContent()).toContain(
        'needs file:write, which this token does not grant',
      );
      expect(await p.locator('#op-pick option[value="file.status"]').isDisabled()).toBe(false);
      // Named in the URL: shown, and its Run disabled with the reason.
      await p.goto(`${sys.url}/ui/#/operations?op=service.start`);
      await p
        .getByText(
          'Not available: this operation needs service:write, which this token does not grant.',
        )
        .waitFor();
      expect(await p.getByRole('button', { name: 'Run…' }).isDisabled()).toBe(true);
      await shot(p, 'operations-read-token-dark');
    } finally {
      await dark.close();
    }
  });
});

describe("a host's page", () => {
  it('reads the services of a host on demand, as a table with a filter', async () => {
    await page.goto(`${sys.url}/ui/#/fleet`);
    await page.getByRole('link', { name: 'web-01' }).click();
    await page.getByRole('heading', { name: 'web-01' }).waitFor();
    // A section for each list operation declared (services now; packages and users when they are).
    const declared = hostReads().map((r) => r.title);
    expect(declared).toContain('Services');
    for (const title of ['Services', 'Packages', 'Users']) {
      expect(await page.getByRole('heading', { name: title, exact: true }).count()).toBe(
        declared.includes(title) ? 1 : 0,
      );
    }
    const services = page.getByTestId('host-services');
    await services.getByRole('button', { name: 'Read services' }).click();
    await services.locator('table').getByText('web.service').waitFor();
    const row = services.locator('tbody tr').filter({ hasText: 'web.service' });
    expect(await row.locator('td[data-label=description]').textContent()).toBe('the web server');
    expect(await row.locator('td[data-label=status]').textContent()).toBe('active');
    await services.getByLabel('Filter services').fill(unit.slice(0, 18));
    await services
      .getByTestId('host-services-count')
      .getByText(/^1 of \d+ services$/)
      .waitFor();
    expect(await services.locator('tbody tr').count()).toBe(1);
    await shot(page, 'host-services');
    await shotNarrow(page, 'host-services');
    // And the Operations page aimed at it.
    await page.getByRole('link', { name: 'Operations on this host' }).click();
    expect(await page.getByLabel('Target').inputValue()).toBe('web-01');
  });

  it('reads the packages and the users of a host, each as a table', async () => {
    await page.goto(`${sys.url}/ui/#/fleet/web-01`);
    const packages = page.getByTestId('host-packages');
    await packages.getByRole('button', { name: 'Read packages' }).click();
    // dpkg itself is on every Debian host.
    await packages.locator('tbody tr').filter({ hasText: /^dpkg/ }).first().waitFor();
    const users = page.getByTestId('host-users');
    await users.getByRole('button', { name: 'Read users' }).click();
    const root = users.locator('tbody tr').filter({ hasText: '/root' });
    await root.first().waitFor();
    expect(await root.first().textContent()).toContain('root');
  });

  it('says why a host without systemd has no services', async () => {
    await page.goto(`${sys.url}/ui/#/fleet/web-02`);
    const services = page.getByTestId('host-services');
    await services.getByRole('button', { name: 'Read services' }).click();
    await services.getByText('skipped').waitFor();
    expect(await services.textContent()).toMatch(/systemd/);
  });
});
