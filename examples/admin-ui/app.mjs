// Keyward admin console: one signed-in person manages a tenant's service accounts and their
// tokens. Everything runs in the page: the engine (@keyward/wasm) decides, IndexedDB stores.
//
// Sign-in: SPEC gives users no password and lets service accounts sign in only on the
// `api` channel, so a person signs in with a personal token of theirs, its
// "sign-in key", authenticated on channel `ui`. The identity that `authenticate` returns is
// kept in sessionStorage (never the key itself) and is the actor of every admin call, so a
// revoked key acts for nobody from the next call on.
//
// Every button asks `engine.authorize(identity, tenant, permission)` first; a button the
// engine would refuse is disabled and says why, with the decision's reason.
import { engine, databaseIsEmpty } from './engine.mjs';

const SESSION_KEY = 'keyward-admin-ui.identity';
/** The tenant's read-only console role, defined at set-up: the engine's built-in roles confer no administration. */
const AUDITOR_GRANTS = ['accounts:read', 'tokens:read', 'audit:read'];
const SERVICE_ROLES = ['viewer', 'user', 'inference-user', 'contributor', 'admin', 'auditor'];
const PERSON_ROLES = ['auditor', 'admin'];
const GRACE_PERIODS = [
  [3600, '1 hour'],
  [86400, '24 hours'],
  [604800, '7 days'],
  [0, 'none (stops now)'],
];
const LIFETIMES = [30, 90, 365];
/** Decision reasons that mean the sign-in itself no longer holds (SPEC §3, R-26). */
const SESSION_ENDED = new Set(['invalid_credentials', 'token_expired', 'token_revoked', 'account_disabled', 'account_revoked', 'not_found']);

const view = document.getElementById('view');
const flash = document.getElementById('flash');
const secretBox = document.getElementById('secret');
const sessionBox = document.getElementById('session');

/** What the console shows, beyond the stored data: kept across re-renders. */
const state = { filter: '', selected: null };

// ---------------------------------------------------------------------------------------------
// Small DOM helpers. Text always goes in as text nodes: descriptions and names are user input.

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

function field(label, input, hint) {
  return h('label', {}, h('span', {}, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

function select(name, options, chosen) {
  return h('select', { name }, options.map(([value, text]) => h('option', { value, selected: value === chosen }, text)));
}

function when(ms) {
  return ms === null ? 'never' : new Date(ms).toLocaleString();
}

function setFlash(text, kind = 'info') {
  flash.textContent = text;
  flash.className = kind;
  flash.hidden = !text;
}

function describe(err) {
  // Engine errors carry a code (SPEC §12) and never a secret.
  return err && err.code ? `${err.code}: ${err.message}` : `error: ${err && err.message ? err.message : err}`;
}

/** Shows a new token, this once: the engine keeps only its hash. */
function showSecret(title, token) {
  setFlash('');
  const copied = h('span', { class: 'muted', 'aria-live': 'polite' });
  secretBox.replaceChildren(
    h('h2', {}, title),
    h('p', { class: 'warning' }, 'Copy it now. This is the only time it is shown: Keyward stores only a hash of it, ',
      'so if it is lost the token must be rotated or a new one issued.'),
    h('p', { class: 'token-line' },
      h('code', { id: 'new-token' }, token),
      h('button', {
        type: 'button',
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(token);
            copied.textContent = 'Copied to the clipboard.';
          } catch {
            copied.textContent = 'The browser refused the clipboard: select the token and copy it by hand.';
          }
        },
      }, 'Copy'),
      copied),
    h('button', { type: 'button', onclick: hideSecret }, 'I have saved it: hide'),
  );
  secretBox.hidden = false;
  secretBox.scrollIntoView({ block: 'nearest' });
}

function hideSecret() {
  secretBox.replaceChildren();
  secretBox.hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Session

function loadSession() {
  const saved = sessionStorage.getItem(SESSION_KEY);
  return saved ? JSON.parse(saved) : null;
}

function signOut(message) {
  sessionStorage.removeItem(SESSION_KEY);
  state.selected = null;
  state.filter = '';
  hideSecret();
  showSignIn();
  setFlash(message ?? '', 'error');
}

async function start() {
  const identity = loadSession();
  if (identity) await showConsole(identity);
  else if (await databaseIsEmpty()) showSetup();
  else showSignIn();
}

/** First visit, empty database: create the tenant and its first admin (bootstrap, R-60). */
function showSetup() {
  sessionBox.replaceChildren();
  const form = h('form', { class: 'card', 'aria-label': 'Set up' },
    h('h2', {}, 'Set up'),
    h('p', { class: 'muted' }, 'This browser holds no Keyward data yet. Create your organisation\'s tenant and its first admin.'),
    field('Tenant id', h('input', { name: 'tenant', required: true, pattern: '[a-z0-9][a-z0-9\\-]{0,62}', placeholder: 'acme' }),
      'lower-case letters, digits and dashes'),
    field('Organisation name', h('input', { name: 'name', required: true, placeholder: 'Acme Corp' })),
    field('Your email', h('input', { name: 'admin', type: 'email', required: true, placeholder: 'you@example.com' })),
    h('button', { type: 'submit' }, 'Create tenant'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const tenant = data.get('tenant').trim();
    const admin = data.get('admin').trim().toLowerCase();
    try {
      await engine.createTenant(tenant, { admin, name: data.get('name').trim() });
      await engine.defineRole(admin, tenant, 'auditor', AUDITOR_GRANTS);
      const key = await engine.createToken(admin, admin, { name: 'sign-in key' });
      showSignIn();
      showSecret(`Your sign-in key, ${admin}`, key.token);
    } catch (err) {
      setFlash(describe(err), 'error');
    }
  });
  view.replaceChildren(form);
}

function showSignIn() {
  sessionBox.replaceChildren();
  const form = h('form', { class: 'card', 'aria-label': 'Sign in' },
    h('h2', {}, 'Sign in'),
    field('Sign-in key', h('input', { name: 'key', type: 'password', required: true, autocomplete: 'off' }),
      'the personal token your admin gave you (service-account tokens cannot sign in here)'),
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = form.elements.key;
    try {
      const identity = await engine.authenticate(input.value.trim(), { channel: 'ui' });
      if (identity.requiresSecondFactor) throw Object.assign(new Error('this console has no second-factor step'), { code: 'second_factor_required' });
      input.value = '';
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(identity));
      hideSecret();
      setFlash('');
      await showConsole(identity);
    } catch (err) {
      input.value = '';
      setFlash(`Sign-in refused: ${describe(err)}`, 'error');
    }
  });
  view.replaceChildren(form);
}

// ---------------------------------------------------------------------------------------------
// The console

async function showConsole(identity) {
  const probe = await engine.authorize(identity, identity.tenant, 'accounts:read');
  if (SESSION_ENDED.has(probe.reason)) {
    signOut(`Your session ended: ${probe.reason}.`);
    return;
  }
  const tenant = await engine.getTenant(identity, identity.tenant);
  sessionBox.replaceChildren(
    h('span', {}, 'Signed in as ', h('strong', { id: 'whoami' }, identity.principal), ` in ${tenant.name} (${tenant.tenant})`),
    h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out'));
  await renderConsole(identity);
}

/** Runs one admin action, reports its outcome, and redraws from the store. */
async function act(identity, work) {
  setFlash('');
  try {
    const message = await work();
    if (message) setFlash(message, 'ok');
  } catch (err) {
    setFlash(describe(err), 'error');
  }
  try {
    const probe = await engine.authorize(identity, identity.tenant, 'accounts:read');
    if (SESSION_ENDED.has(probe.reason)) signOut(`Your session ended: ${probe.reason}.`);
    else await renderConsole(identity);
  } catch (err) {
    setFlash(describe(err), 'error');
  }
}

/** Decisions of one render, asked once each. */
function gates(identity) {
  const asked = new Map();
  return (tenant, permission) => {
    const key = `${tenant} ${permission}`;
    if (!asked.has(key)) asked.set(key, engine.authorize(identity, tenant, permission));
    return asked.get(key);
  };
}

/**
 * A button enabled only when the decision allows; a disabled one carries the reason, in its
 * title and beside it. `blocked` is a reason of the target's own (a revoked token), asked after
 * the decision.
 */
function gated(label, decision, { permission, tenant, owner = false, onclick, type = 'button', blocked = null }) {
  let why = null;
  if (!decision.allowed) {
    why = `${decision.reason}: needs ${permission} in ${tenant}${owner ? ' (the owner tenant)' : ''}`;
  } else if (blocked) {
    why = blocked;
  }
  const button = h('button', { type, onclick, disabled: why !== null, title: why }, label);
  return why ? h('span', { class: 'gated' }, button, h('small', { class: 'why' }, `Not allowed: ${why}`)) : button;
}

async function renderConsole(identity) {
  const gate = gates(identity);
  const sections = [await accountsSection(identity, gate)];
  if (state.selected) sections.push(await accountSection(identity, gate));
  sections.push(await peopleSection(identity, gate), await auditSection(identity, gate));
  view.replaceChildren(...sections.filter(Boolean));
}

/** The filter box: a name prefix, or a filter in the engine's own grammar. */
function accountFilter(text) {
  if (text === '') return { filter: 'service_account=true', offset: 0 };
  if (/^[a-z0-9@.-]+$/.test(text)) return { filter: `service_account=true AND (name="${text}*" OR principal="${text}*")`, offset: 0 };
  const prefix = 'service_account=true AND (';
  return { filter: `${prefix}${text})`, offset: prefix.length };
}

async function listAll(identity, tenant, filter) {
  const accounts = [];
  let pageToken = null;
  do {
    const page = await engine.listAccounts(identity, tenant, { filter, pageSize: 1000, pageToken });
    accounts.push(...page.accounts);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return accounts;
}

function ownerCell(account) {
  return account.owned
    ? h('span', { class: 'badge owned' }, 'owned')
    : h('span', { class: 'badge external' }, `external · ${account.tenant}`);
}

async function accountsSection(identity, gate) {
  const tenant = identity.tenant;
  const canRead = await gate(tenant, 'accounts:read');
  const canWrite = await gate(tenant, 'accounts:write');
  const section = h('section', { id: 'accounts', 'aria-labelledby': 'accounts-title' }, h('h2', { id: 'accounts-title' }, 'Service accounts'));

  const filterForm = h('form', { class: 'row', 'aria-label': 'Filter' },
    h('input', { name: 'filter', type: 'search', value: state.filter, 'aria-label': 'Filter accounts', size: 48,
      placeholder: 'name prefix, or e.g. owned=false AND role="viewer"' }),
    gated('Filter', canRead, { permission: 'accounts:read', tenant, type: 'submit' }));
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    state.filter = filterForm.elements.filter.value.trim();
    act(identity, () => null);
  });
  section.append(filterForm);

  if (canRead.allowed) {
    const { filter, offset } = accountFilter(state.filter);
    try {
      const accounts = await listAll(identity, tenant, filter);
      section.append(accounts.length === 0
        ? h('p', { class: 'muted' }, state.filter ? 'No service account matches.' : 'No service accounts yet.')
        : h('table', { class: 'accounts' },
          h('thead', {}, h('tr', {}, ['Account', 'Owner', 'Role here', 'Status', 'Description', ''].map((t) => h('th', {}, t)))),
          h('tbody', {}, accounts.map((a) => h('tr', { 'data-principal': a.principal, class: a.principal === state.selected ? 'selected' : null },
            h('td', {}, h('strong', {}, a.name), h('br'), h('small', { class: 'muted' }, a.principal)),
            h('td', {}, ownerCell(a)),
            h('td', {}, a.roles[0] ?? '—'),
            h('td', {}, a.status),
            h('td', {}, a.owned ? a.description ?? '' : h('span', { class: 'muted' }, 'kept by its owner')),
            h('td', {}, h('button', { type: 'button', onclick: () => { state.selected = a.principal; act(identity, () => null); } }, 'Manage')))))));
    } catch (err) {
      if (err.code !== 'invalid_filter') throw err;
      section.append(h('p', { class: 'error' }, `The filter is not understood at character ${Math.max(err.position - offset, 0) + 1}.`));
    }
  } else {
    section.append(h('p', { class: 'why' }, `Listing not allowed: ${canRead.reason}: needs accounts:read in ${tenant}`));
  }

  const create = h('form', { class: 'card', 'aria-label': 'Create a service account' },
    h('h3', {}, 'Create a service account'),
    field('Name', h('input', { name: 'name', required: true, pattern: '[a-z][a-z0-9\\-]{1,62}', placeholder: 'ci-deployer' }),
      'lower-case letters, digits and dashes'),
    field('Role', select('role', [['', 'no role'], ...SERVICE_ROLES.map((r) => [r, r])], 'viewer')),
    field('Description', h('input', { name: 'description', maxlength: 1000, placeholder: 'what it is for, who runs it' })),
    gated('Create service account', canWrite, { permission: 'accounts:write', tenant, type: 'submit' }));
  create.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(create);
    act(identity, async () => {
      const account = await engine.createServiceAccount(identity, tenant, data.get('name').trim(), {
        role: data.get('role') || null,
        description: data.get('description').trim() || null,
      });
      state.selected = account.principal;
      return `Created ${account.principal}.`;
    });
  });

  const grant = h('form', { class: 'card', 'aria-label': 'Give an external account access' },
    h('h3', {}, 'Give an external account access'),
    h('p', { class: 'muted' }, 'A service account of another tenant (a partner\'s or an MSP\'s automation) may work here with a role you choose. Its tokens stay with its owner.'),
    field('Principal', h('input', { name: 'principal', required: true, placeholder: 'bot@partner.sa.keyward.local' })),
    field('Role here', select('role', SERVICE_ROLES.map((r) => [r, r]), 'viewer')),
    gated('Grant access', canWrite, { permission: 'accounts:write', tenant, type: 'submit' }));
  grant.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(grant);
    act(identity, async () => {
      const account = await engine.grantAccess(identity, tenant, data.get('principal').trim(), { role: data.get('role') });
      return `${account.principal} now has access to ${tenant}.`;
    });
  });

  section.append(h('div', { class: 'forms' }, create, grant));
  return section;
}

function tokenState(token, now) {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && token.expiresAt <= now) return 'expired';
  return 'live';
}

/** One account: its tokens, issued, rotated and revoked by its owner tenant only. */
async function accountSection(identity, gate) {
  const tenant = identity.tenant;
  let account;
  try {
    account = await engine.getAccount(identity, tenant, state.selected);
  } catch (err) {
    // Deleted meanwhile, or its access here removed: nothing left to manage.
    if (err.code !== 'not_found') throw err;
    state.selected = null;
    return null;
  }
  const owner = account.tenant;
  const canReadTokens = await gate(owner, 'tokens:read');
  const canWriteTokens = await gate(owner, 'tokens:write');
  const section = h('section', { id: 'account', 'aria-labelledby': 'account-title' },
    h('h2', { id: 'account-title' }, account.name, ' ', ownerCell(account)),
    h('p', {}, h('code', {}, account.principal)),
    account.owned
      ? h('p', {}, account.description ?? h('span', { class: 'muted' }, 'No description.'))
      : h('p', { class: 'muted' }, `Owned by tenant ${owner}: its description, tokens and status are managed there. `
        + `${tenant} decides only its role and grants here.`));

  const issue = h('form', { class: 'row', 'aria-label': 'Issue a token' },
    field('Token name', h('input', { name: 'name', required: true, value: 'default', maxlength: 64 })),
    field('Lifetime', select('ttl', LIFETIMES.map((d) => [String(d), `${d} days`]), '90')),
    gated('Issue token', canWriteTokens, { permission: 'tokens:write', tenant: owner, owner: !account.owned, type: 'submit' }));
  issue.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(issue);
    act(identity, async () => {
      const token = await engine.createToken(identity, account.principal, { name: data.get('name').trim(), ttlDays: Number(data.get('ttl')) });
      showSecret(`New token "${token.name}" for ${account.name}`, token.token);
      return `Issued token ${token.tokenId}.`;
    });
  });
  section.append(h('h3', {}, 'Tokens'), issue);

  if (!canReadTokens.allowed) {
    section.append(h('p', { class: 'why' }, `Tokens not shown: ${canReadTokens.reason}: needs tokens:read in ${owner}`));
    return section;
  }
  const tokens = await engine.listTokens(identity, account.principal);
  if (tokens.length === 0) {
    section.append(h('p', { class: 'muted' }, 'No tokens.'));
    return section;
  }
  const now = Date.now();
  section.append(h('table', { class: 'tokens' },
    h('thead', {}, h('tr', {}, ['Name', 'Id', 'Created', 'Expires', 'Last used', 'State', 'Rotate', ''].map((t) => h('th', {}, t)))),
    h('tbody', {}, tokens.map((t) => {
      const current = tokenState(t, now);
      const blocked = current === 'live' ? null : `the token is ${current}`;
      const grace = select('grace', GRACE_PERIODS.map(([s, text]) => [String(s), text]), '86400');
      grace.setAttribute('aria-label', `Grace period for ${t.tokenId}`);
      return h('tr', { 'data-token-id': t.tokenId, class: current },
        h('td', {}, t.name),
        h('td', {}, h('code', {}, t.tokenId)),
        h('td', {}, when(t.createdAt), h('br'), h('small', { class: 'muted' }, t.createdBy)),
        h('td', { class: 'expires' }, when(t.expiresAt)),
        h('td', {}, t.lastUsedAt === null ? '—' : when(t.lastUsedAt)),
        h('td', { class: 'state' }, current),
        h('td', {}, h('span', { class: 'row' }, current === 'live' ? grace : null, gated('Rotate', canWriteTokens, {
          permission: 'tokens:write', tenant: owner, owner: !account.owned, blocked,
          onclick: () => act(identity, async () => {
            const rotated = await engine.rotateToken(identity, account.principal, t.tokenId, { graceSeconds: Number(grace.value) });
            showSecret(`Rotated token "${rotated.name}" for ${account.name}: the new token`, rotated.token);
            const kept = GRACE_PERIODS.find(([s]) => s === Number(grace.value))[1];
            return Number(grace.value) === 0
              ? `Rotated ${t.tokenId} into ${rotated.tokenId}; the old one stopped at once.`
              : `Rotated ${t.tokenId} into ${rotated.tokenId}; the old one keeps working for ${kept} at most.`;
          }),
        }))),
        h('td', {}, gated('Revoke', canWriteTokens, {
          permission: 'tokens:write', tenant: owner, owner: !account.owned, blocked,
          onclick: () => {
            if (!confirm(`Revoke token "${t.name}" (${t.tokenId})? Clients using it are refused from now on.`)) return;
            act(identity, async () => {
              await engine.revokeToken(identity, account.principal, t.tokenId);
              return `Revoked ${t.tokenId}.`;
            });
          },
        })));
    }))));
  return section;
}

/** The people who may sign in to this console, and their sign-in keys. */
async function peopleSection(identity, gate) {
  const tenant = identity.tenant;
  const canRead = await gate(tenant, 'accounts:read');
  const canWrite = await gate(tenant, 'accounts:write');
  const canIssue = await gate(tenant, 'tokens:write');
  const section = h('section', { id: 'people', 'aria-labelledby': 'people-title' }, h('h2', { id: 'people-title' }, 'People'));
  if (canRead.allowed) {
    const people = await listAll(identity, tenant, 'kind="user"');
    section.append(h('table', {},
      h('thead', {}, h('tr', {}, ['Email', 'Owner', 'Role here', 'Status', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, people.map((p) => h('tr', { 'data-principal': p.principal },
        h('td', {}, p.principal),
        h('td', {}, ownerCell(p)),
        h('td', {}, p.roles[0] ?? '—'),
        h('td', {}, p.status),
        // Your own key is yours to manage (R-52); others' keys need tokens:write in their owner tenant.
        h('td', {}, p.principal === identity.principal
          ? h('span', { class: 'muted' }, 'you')
          : p.owned
            ? gated('Issue sign-in key', canIssue, {
              permission: 'tokens:write', tenant,
              onclick: () => act(identity, async () => {
                const key = await engine.createToken(identity, p.principal, { name: 'sign-in key' });
                showSecret(`Sign-in key for ${p.principal}`, key.token);
                return `Issued a sign-in key for ${p.principal}; hand it over privately.`;
              }),
            })
            : null))))));
  } else {
    section.append(h('p', { class: 'why' }, `Listing not allowed: ${canRead.reason}: needs accounts:read in ${tenant}`));
  }
  const add = h('form', { class: 'card row', 'aria-label': 'Add a person' },
    field('Email', h('input', { name: 'email', type: 'email', required: true, placeholder: 'colleague@example.com' })),
    field('Role', select('role', PERSON_ROLES.map((r) => [r, r === 'auditor' ? 'auditor (reads accounts, tokens, audit)' : r]), 'auditor')),
    gated('Add person', canWrite, { permission: 'accounts:write', tenant, type: 'submit' }));
  add.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(add);
    act(identity, async () => {
      const person = await engine.createUser(identity, tenant, data.get('email').trim(), { role: data.get('role') });
      return `Added ${person.principal}. Issue them a sign-in key.`;
    });
  });
  section.append(add);
  return section;
}

async function auditSection(identity, gate) {
  const tenant = identity.tenant;
  const canRead = await gate(tenant, 'audit:read');
  const section = h('section', { id: 'audit', 'aria-labelledby': 'audit-title' }, h('h2', { id: 'audit-title' }, 'Audit trail'));
  if (!canRead.allowed) {
    section.append(h('p', { class: 'why' }, `Audit trail not shown: ${canRead.reason}: needs audit:read in ${tenant}`));
    return section;
  }
  const { events, nextPageToken } = await engine.auditLog(identity, tenant, { pageSize: 100 });
  section.append(h('table', { class: 'audit' },
    h('thead', {}, h('tr', {}, ['Time', 'Actor', 'Action', 'Target', 'Outcome'].map((t) => h('th', {}, t)))),
    h('tbody', {}, events.map((e) => h('tr', { class: e.outcome },
      h('td', {}, when(e.time)),
      h('td', {}, e.actor ? `${e.actor.principal} (${e.actor.kind})` : '—'),
      h('td', { class: 'action' }, e.action),
      h('td', {}, e.target),
      h('td', {}, e.outcome === 'ok' ? 'ok' : `${e.outcome}: ${e.reason}`))))));
  if (nextPageToken) section.append(h('p', { class: 'muted' }, 'The 100 newest events are shown.'));
  return section;
}

start().catch((err) => setFlash(describe(err), 'error'));
