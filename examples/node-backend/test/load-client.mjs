// One client process of clients.test.mjs. Its plan comes in env LOAD_PLAN (it holds tokens, so
// not in argv): { base, inFlight, requests: [{ method, path, token?, body?, expect, retryConflicts?,
// whoami? }] }. `expect`: { status: n | [n...], code?: c | [c...], json?: {field: value} }. It runs
// every request (`inFlight` at a time), checks every answer, retries a write refused with
// `conflict` when told to (as a client of a busy service should), and for a new token asks
// /whoami with it, expecting the principal `whoami`. It prints one JSON report — counts and
// failures, never a token — and exits 0.
const { base, inFlight, requests } = JSON.parse(process.env.LOAD_PLAN);

const report = { checked: 0, created: 0, conflicts: 0, failures: [] };
const oneOf = (wanted, got) => (Array.isArray(wanted) ? wanted.includes(got) : wanted === got);

async function send({ method, path, token, body }) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

function check(request, answer) {
  const { expect } = request;
  const code = answer.json.error?.code;
  const wrong =
    !oneOf(expect.status, answer.status) ? `status ${answer.status}` :
    expect.code !== undefined && answer.status >= 400 && !oneOf(expect.code, code) ? `code ${code}` :
    Object.entries(expect.json ?? {}).find(([k, v]) => answer.json[k] !== v)?.[0];
  report.checked += 1;
  // The request is named by method and route only: its token stays out of the report.
  if (wrong) report.failures.push(`${request.method} ${request.path}: ${wrong} (${code ?? 'no error'})`);
}

async function run(request) {
  let answer = await send(request);
  for (let tries = 0; request.retryConflicts && answer.json.error?.code === 'conflict' && tries < 10; tries++) {
    report.conflicts += 1;
    answer = await send(request);
  }
  check(request, answer);
  if (request.whoami && answer.status === 201) {
    report.created += 1;
    const me = await send({ method: 'GET', path: '/whoami', token: answer.json.token });
    check({ method: 'GET', path: '/whoami (new token)', expect: { status: 200, json: { principal: request.whoami } } }, me);
  }
}

const queue = [...requests];
await Promise.all(Array.from({ length: inFlight }, async () => {
  while (queue.length > 0) await run(queue.shift());
}));
process.stdout.write(JSON.stringify(report));
