// The admin console in real headless Chromium (Debian's, driven by playwright-core), served by
// serve.mjs, its data in the browser's IndexedDB under a fresh profile. The tests run in order
// and click through one story: set up, sign in, create, issue, rotate, revoke, grant access to
// an external account, read the audit trail, reload; then the same pages as a less privileged
// person. Screenshots go to artifacts/ (git-ignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../serve.mjs';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const ADMIN = 'ada@acme.test';
const AUDITOR = 'val@acme.test';
const BOT = 'ci-deployer@acme.sa.keyward.local';
const PARTNER_BOT = 'msp-bot@partner.sa.keyward.local';

let server;
let url;
let profile;
let context;
let page;
/** Every secret the console showed: none may turn up anywhere else. */
const secrets = [];
const consoleLines = [];
const pageErrors = [];
let adminKey;
let auditorKey;
let firstToken;
let rotatedToken;

before(async () => {
  ({ server, url } = await startServer());
  await mkdir(ARTIFACTS, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), 'keyward-admin-ui-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    // The copy button writes to the clipboard; the test reads it back.
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  context.setDefaultTimeout(10_000);
  page = await watch(context.pages()[0] ?? (await context.newPage()));
});

after(async () => {
  await context?.close();
  server?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

function watch(p) {
  p.on('console', (message) => consoleLines.push(message.text()));
  p.on('pageerror', (error) => pageErrors.push(String(error)));
  p.on('dialog', (dialog) => dialog.accept()); // the revoke confirmation
  return p;
}

function shot(name, p = page) {
  return p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The token in the "shown once" panel. */
async function shownSecret(p = page) {
  const token = (await p.locator('#new-token').textContent()).trim();
  assert.match(token, /^kw_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
  secrets.push(token);
  return token;
}

/** Waits for the status line to say `pattern` (actions answer asynchronously). */
async function flash(pattern, p = page) {
  await p.locator('#flash').filter({ hasText: pattern }).waitFor();
}

async function signIn(key, p = page) {
  const form = p.getByRole('form', { name: 'Sign in' });
  await form.locator('[name=key]').fill(key);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

/** Asks the page's own engine: what a client presenting this token would be told. */
function verify(token, permission) {
  return page.evaluate(async ([t, p]) => {
    const { engine } = await import('/engine.mjs');
    return engine.verify(t, 'acme', p);
  }, [token, permission]);
}

function tokenId(token) {
  return token.split('_')[1];
}

/** A gated button: its state, its title, and the reason shown beside it. */
async function gate(button) {
  const disabled = await button.isDisabled();
  const title = await button.getAttribute('title');
  const why = disabled ? (await button.locator('xpath=following-sibling::small[1]').textContent()).trim() : null;
  return { disabled, title, why };
}

async function manage(principal) {
  await page.locator(`#accounts tr[data-principal="${principal}"]`).getByRole('button', { name: 'Manage' }).click();
  await page.locator('#account-title').filter({ hasText: principal.split('@')[0] }).waitFor();
}

test('first visit: the set-up form creates the tenant and its admin, whose sign-in key is shown once', async () => {
  await page.goto(url);
  const setup = page.getByRole('form', { name: 'Set up' });
  await setup.waitFor();
  await setup.locator('[name=tenant]').fill('acme');
  await setup.locator('[name=name]').fill('Acme Corp');
  await setup.locator('[name=admin]').fill(ADMIN);
  await shot('01-setup');
  await setup.getByRole('button', { name: 'Create tenant' }).click();

  adminKey = await shownSecret();
  assert.match(await page.locator('#secret').textContent(), /only time it is shown/);
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
  await shot('02-admin-key-shown-once');

  await signIn('kw_AAAAAAAAAAAA_wrong');
  await flash(/Sign-in refused: invalid_credentials/);
  await signIn(adminKey);
  assert.equal(await page.locator('#whoami').textContent(), ADMIN);
  assert.equal(await page.locator('#secret').isHidden(), true, 'the key is put away once used');
});

test('the admin creates a service account with a role and a description', async () => {
  const create = page.getByRole('form', { name: 'Create a service account' });
  assert.equal((await gate(create.getByRole('button', { name: 'Create service account' }))).disabled, false);
  await create.locator('[name=name]').fill('ci-deployer');
  await create.locator('[name=role]').selectOption('contributor');
  await create.locator('[name=description]').fill('Deploys main from CI');
  await create.getByRole('button', { name: 'Create service account' }).click();

  const row = page.locator(`#accounts tr[data-principal="${BOT}"]`);
  await row.waitFor();
  const cells = await row.locator('td').allTextContents();
  assert.deepEqual(cells.slice(1, 5), ['owned', 'contributor', 'active', 'Deploys main from CI']);
  await flash(new RegExp(`Created ${BOT}`));
  assert.match(await page.locator('#account').textContent(), /No tokens\./);
});

test('a new token is shown once, with a warning and a copy button, and is gone after a reload', async () => {
  const issue = page.getByRole('form', { name: 'Issue a token' });
  await issue.locator('[name=name]').fill('github-actions');
  await issue.getByRole('button', { name: 'Issue token' }).click();
  firstToken = await shownSecret();
  assert.match(await page.locator('#secret h2').textContent(), /New token "github-actions" for ci-deployer/);
  assert.match(await page.locator('#secret .warning').textContent(), /only time it is shown/);

  await page.locator('#secret').getByRole('button', { name: 'Copy' }).click();
  await page.locator('#secret').getByText('Copied to the clipboard.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), firstToken);
  await shot('03-token-shown-once');

  // The token works for what the role gives, and the browser keeps only its hash.
  assert.equal((await verify(firstToken, 'deployments:write')).allowed, true);
  const stored = await page.evaluate(async () => {
    const { store } = await import('/engine.mjs');
    return (await store.list('', null, 10_000)).map((e) => `${e.key} ${e.value}`).join('\n');
  });
  assert.ok(stored.includes(tokenId(firstToken)), 'the token record is in IndexedDB');
  assert.ok(!stored.includes(firstToken.split('_')[2].slice(0, 32)), 'the secret is not');

  await page.reload();
  await page.locator('#whoami').waitFor();
  assert.equal(await page.locator('#whoami').textContent(), ADMIN, 'still signed in after a reload');
  assert.equal(await page.locator('#secret').isHidden(), true);
  assert.ok(!(await page.content()).includes(firstToken), 'the token is not shown again');
  await manage(BOT);
  const tokenRow = page.locator(`#account tr[data-token-id="${tokenId(firstToken)}"]`);
  assert.equal(await tokenRow.locator('td.state').textContent(), 'live');
  assert.ok(!(await page.content()).includes(firstToken));
});

test('rotation with a grace period: a new token, and the old one keeps working until the grace ends', async () => {
  const oldRow = page.locator(`#account tr[data-token-id="${tokenId(firstToken)}"]`);
  await oldRow.locator('select[name=grace]').selectOption('3600');
  const before = await page.evaluate(() => Date.now());
  await oldRow.getByRole('button', { name: 'Rotate' }).click();
  rotatedToken = await shownSecret();
  assert.notEqual(rotatedToken, firstToken);
  await flash(/keeps working for 1 hour at most/);
  await shot('04-rotated');

  assert.equal((await verify(rotatedToken, 'deployments:write')).allowed, true, 'the new token works');
  assert.equal((await verify(firstToken, 'deployments:write')).allowed, true, 'the old one too, in its grace period');
  const tokens = await page.evaluate(async ([actor, bot]) => {
    const { engine } = await import('/engine.mjs');
    return engine.listTokens(actor, bot);
  }, [ADMIN, BOT]);
  const old = tokens.find((t) => t.tokenId === tokenId(firstToken));
  assert.ok(old.expiresAt <= before + 3600_000 + 60_000, `old token ends with its grace: ${old.expiresAt - before} ms`);
  assert.ok(old.expiresAt > before);
  assert.equal(await page.locator('#account tbody tr').count(), 2);

  // A service account's token cannot sign in to the console.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(firstToken);
  await flash(/Sign-in refused: channel_not_allowed/);
  await signIn(adminKey);
  await manage(BOT);
});

test('revoking a token refuses it from the next call on, and its buttons say why they are off', async () => {
  const row = page.locator(`#account tr[data-token-id="${tokenId(rotatedToken)}"]`);
  await row.getByRole('button', { name: 'Revoke' }).click();
  await page.locator(`#account tr[data-token-id="${tokenId(rotatedToken)}"] td.state`).filter({ hasText: 'revoked' }).waitFor();
  assert.equal((await verify(rotatedToken, 'deployments:write')).reason, 'token_revoked');
  const rotate = await gate(row.getByRole('button', { name: 'Rotate' }));
  assert.deepEqual(rotate, { disabled: true, title: 'the token is revoked', why: 'Not allowed: the token is revoked' });
  await shot('05-revoked');
});

test('an account of another tenant given access here is listed as external; its tokens stay with its owner', async () => {
  // Another tenant in the same database: its own admin makes its bot (outside this console).
  await page.evaluate(async (bot) => {
    const { engine } = await import('/engine.mjs');
    await engine.createTenant('partner', { admin: 'ops@partner.test', name: 'Partner MSP' });
    await engine.createServiceAccount('ops@partner.test', 'partner', bot, { role: 'viewer', description: 'Partner automation' });
  }, 'msp-bot');

  const grant = page.getByRole('form', { name: 'Give an external account access' });
  await grant.locator('[name=principal]').fill(PARTNER_BOT);
  await grant.locator('[name=role]').selectOption('viewer');
  await grant.getByRole('button', { name: 'Grant access' }).click();
  const row = page.locator(`#accounts tr[data-principal="${PARTNER_BOT}"]`);
  await row.waitFor();
  const cells = await row.locator('td').allTextContents();
  assert.deepEqual(cells.slice(1, 5), ['external · partner', 'viewer', 'active', 'kept by its owner']);

  const filter = page.getByRole('form', { name: 'Filter' });
  const listed = () => page.locator('#accounts tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.principal));
  await filter.locator('[name=filter]').fill('owned=false');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await page.locator(`#accounts tr[data-principal="${BOT}"]`).waitFor({ state: 'detached' });
  assert.deepEqual(await listed(), [PARTNER_BOT]);
  await filter.locator('[name=filter]').fill('ci');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await page.locator(`#accounts tr[data-principal="${PARTNER_BOT}"]`).waitFor({ state: 'detached' });
  assert.deepEqual(await listed(), [BOT]);
  await filter.locator('[name=filter]').fill('owned=');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await page.locator('#accounts p.error').waitFor();
  assert.equal(await page.locator('#accounts p.error').textContent(), 'The filter is not understood at character 7.');
  await filter.locator('[name=filter]').fill('');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await row.waitFor();
  assert.deepEqual(await listed(), [BOT, PARTNER_BOT]);

  await manage(PARTNER_BOT);
  const issue = await gate(page.getByRole('form', { name: 'Issue a token' }).getByRole('button', { name: 'Issue token' }));
  assert.deepEqual(issue, {
    disabled: true,
    title: 'forbidden: needs tokens:write in partner (the owner tenant)',
    why: 'Not allowed: forbidden: needs tokens:write in partner (the owner tenant)',
  });
  assert.match(await page.locator('#account').textContent(), /Tokens not shown: forbidden: needs tokens:read in partner/);
  await shot('06-external-account');
});

test('the audit trail shows each step, and no secret', async () => {
  const audit = page.locator('#audit');
  const actions = await audit.locator('td.action').allTextContents();
  for (const action of ['tenant.create', 'role.define', 'service_account.create', 'token.create', 'token.rotate', 'token.revoke', 'access.add_tenant']) {
    assert.ok(actions.includes(action), `${action} in ${actions.join(', ')}`);
  }
  const text = await audit.textContent();
  assert.ok(text.includes(`token:${tokenId(rotatedToken)}`), 'rotation and revocation name the new token');
  assert.ok(text.includes(`${BOT}`));
  for (const secret of secrets) assert.ok(!text.includes(secret.split('_')[2].slice(0, 32)), 'no secret in the audit view');
  await shot('07-audit');
});

test('the admin adds a less privileged person and hands them a sign-in key', async () => {
  const add = page.getByRole('form', { name: 'Add a person' });
  await add.locator('[name=email]').fill(AUDITOR);
  await add.locator('[name=role]').selectOption('auditor');
  await add.getByRole('button', { name: 'Add person' }).click();
  const row = page.locator(`#people tr[data-principal="${AUDITOR}"]`);
  await row.waitFor();
  assert.deepEqual((await row.locator('td').allTextContents()).slice(0, 4), [AUDITOR, 'owned', 'auditor', 'active']);
  await row.getByRole('button', { name: 'Issue sign-in key' }).click();
  auditorKey = await shownSecret();
  assert.match(await page.locator('#secret h2').textContent(), new RegExp(`Sign-in key for ${AUDITOR}`));
});

test('the data survives a reload, and a new tab must sign in (the session is per tab)', async () => {
  await page.reload();
  await page.locator(`#accounts tr[data-principal="${PARTNER_BOT}"]`).waitFor();
  assert.equal(await page.locator(`#accounts tr[data-principal="${BOT}"]`).count(), 1);
  assert.equal(await page.locator(`#people tr[data-principal="${AUDITOR}"]`).count(), 1);
  assert.ok((await page.locator('#audit td.action').allTextContents()).includes('user.create'));

  const tab = await watch(await context.newPage());
  await tab.goto(url);
  await tab.getByRole('form', { name: 'Sign in' }).waitFor();
  assert.equal(await tab.getByRole('form', { name: 'Set up' }).count(), 0, 'set-up is offered only on an empty database');
  await tab.close();
});

test('signed in as the auditor: listing works, and every write button is off with the decision\'s reason', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(auditorKey);
  assert.equal(await page.locator('#whoami').textContent(), AUDITOR);
  await page.locator(`#accounts tr[data-principal="${PARTNER_BOT}"]`).waitFor();
  assert.equal(await page.locator(`#accounts tr[data-principal="${BOT}"]`).count(), 1);

  const forbidden = (permission) => ({
    disabled: true,
    title: `forbidden: needs ${permission} in acme`,
    why: `Not allowed: forbidden: needs ${permission} in acme`,
  });
  const button = (form, name) => page.getByRole('form', { name: form }).getByRole('button', { name });
  assert.deepEqual(await gate(button('Create a service account', 'Create service account')), forbidden('accounts:write'));
  assert.deepEqual(await gate(button('Give an external account access', 'Grant access')), forbidden('accounts:write'));
  assert.deepEqual(await gate(button('Add a person', 'Add person')), forbidden('accounts:write'));
  assert.deepEqual(await gate(page.locator(`#people tr[data-principal="${ADMIN}"]`).getByRole('button', { name: 'Issue sign-in key' })),
    forbidden('tokens:write'));
  assert.equal((await gate(button('Filter', 'Filter'))).disabled, false);

  await manage(BOT);
  assert.deepEqual(await gate(button('Issue a token', 'Issue token')), forbidden('tokens:write'));
  const live = page.locator(`#account tr[data-token-id="${tokenId(firstToken)}"]`);
  assert.equal(await live.locator('td.state').textContent(), 'live', 'the auditor reads the tokens');
  assert.deepEqual(await gate(live.getByRole('button', { name: 'Rotate' })), forbidden('tokens:write'));
  assert.deepEqual(await gate(live.getByRole('button', { name: 'Revoke' })), forbidden('tokens:write'));
  assert.ok((await page.locator('#audit td.action').allTextContents()).includes('token.revoke'), 'the auditor reads the audit trail');
  await shot('08-auditor');

  // The buttons tell the truth: the engine refuses the signed-in auditor the same way.
  const refused = await page.evaluate(async () => {
    const { engine } = await import('/engine.mjs');
    const identity = JSON.parse(sessionStorage.getItem('keyward-admin-ui.identity'));
    try {
      await engine.createServiceAccount(identity, 'acme', 'sneaky-bot');
      return 'created';
    } catch (err) {
      return err.code;
    }
  });
  assert.equal(refused, 'forbidden');
});

test('a revoked sign-in key ends its session at the next click', async () => {
  await page.evaluate(async ([admin, auditor]) => {
    const { engine } = await import('/engine.mjs');
    for (const t of await engine.listTokens(admin, auditor)) await engine.revokeToken(admin, auditor, t.tokenId);
  }, [ADMIN, AUDITOR]);
  await page.getByRole('form', { name: 'Filter' }).getByRole('button', { name: 'Filter' }).click();
  await flash(/Your session ended: token_revoked/);
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});

test('no secret reached the browser console, and the page threw nothing', () => {
  assert.deepEqual(pageErrors, []);
  const logged = consoleLines.join('\n');
  for (const secret of secrets) assert.ok(!logged.includes(secret.split('_')[2].slice(0, 32)), 'a secret was logged');
  assert.ok(secrets.length >= 4, `${secrets.length} secrets seen`);
});
