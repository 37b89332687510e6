// The JavaScript conformance runner, shared by the tests of @keyward/node and @keyward/wasm:
// replays tests/conformance/*.json unchanged (format: core/tests/support/scenario.rs), with the
// built-in store and with an async host store written in JavaScript.
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const here = dirname(fileURLToPath(import.meta.url));
const dir = join(here, '..', 'tests', 'conformance');
const T0 = 1_700_000_000_000;

const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const camelKeys = (v) =>
  Array.isArray(v) ? v.map(camelKeys)
    : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), camelKeys(x)]))
      : v;

export function loadScenarios() {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((file) => {
      const v = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      return (Array.isArray(v) ? v : [v]).map((scenario) => ({ file, scenario }));
    });
}

const utf8 = new TextEncoder();
/** Bytewise (UTF-8) order, the order of keys in every store (JavaScript's `<` is UTF-16's). */
export const compareKeys = (a, b) => Buffer.compare(utf8.encode(a), utf8.encode(b));

/** A store written in JavaScript whose every method answers through a Promise. */
export class AsyncMapStore {
  #map = new Map();
  async get(key) {
    await null;
    const e = this.#map.get(key);
    return e ? { value: e.value, version: e.version } : null;
  }
  async put(key, value, expectedVersion) {
    await null;
    const current = this.#map.get(key)?.version ?? null;
    if (current !== expectedVersion) return null;
    const version = current === null ? 1 : current + 1;
    this.#map.set(key, { value, version });
    return version;
  }
  async delete(key, expectedVersion) {
    await null;
    if (this.#map.get(key)?.version !== expectedVersion) return false;
    this.#map.delete(key);
    return true;
  }
  async list(prefix, after, limit) {
    await null;
    return [...this.#map.keys()]
      .filter((k) => k.startsWith(prefix) && (after === null || compareKeys(k, after) > 0))
      .sort(compareKeys)
      .slice(0, limit)
      .map((key) => ({ key, ...this.#map.get(key) }));
  }
}

/** Wraps a store to inject host failures and lost races. */
class FaultyStore {
  failCalls = 0;
  failMessage = 'store failed';
  losePuts = 0;
  constructor(inner) {
    this.inner = inner;
    // A store that reads batches at once keeps doing so through the wrapper (one call, one gate).
    if (typeof inner.getMany === 'function') {
      this.getMany = async (keys) => {
        this.#gate();
        return inner.getMany(keys);
      };
    }
  }
  #gate() {
    if (this.failCalls > 0) {
      this.failCalls -= 1;
      throw new Error(this.failMessage);
    }
  }
  async get(key) {
    this.#gate();
    return this.inner.get(key);
  }
  async put(key, value, expectedVersion) {
    this.#gate();
    if (this.losePuts > 0) {
      this.losePuts -= 1;
      return null;
    }
    return this.inner.put(key, value, expectedVersion);
  }
  async delete(key, expectedVersion) {
    this.#gate();
    return this.inner.delete(key, expectedVersion);
  }
  async list(prefix, after, limit) {
    this.#gate();
    return this.inner.list(prefix, after, limit);
  }
}

function substitute(v, vars) {
  if (typeof v === 'string') {
    if (v.startsWith('$') && Object.hasOwn(vars, v.slice(1))) return vars[v.slice(1)];
    return v.replace(/\$\{([A-Za-z0-9_]+)\}/g, (m, k) =>
      Object.hasOwn(vars, k) ? (typeof vars[k] === 'string' ? vars[k] : JSON.stringify(vars[k])) : m);
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, vars));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, vars)]));
  return v;
}

export function matches(expected, actual, path) {
  if (expected === '$any') return;
  if (expected === '$set') {
    if (actual === null || actual === undefined) throw new Error(`${path}: expected a value, got ${actual}`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      throw new Error(`${path}: expected ${expected.length} items, got ${JSON.stringify(actual)}`);
    }
    expected.forEach((e, i) => matches(e, actual[i], `${path}[${i}]`));
    return;
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object') throw new Error(`${path}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [k, e] of Object.entries(expected)) {
      if (e === '$absent') {
        if (Object.hasOwn(actual, k)) throw new Error(`${path}.${k}: expected no such key`);
        continue;
      }
      if (!Object.hasOwn(actual, k)) throw new Error(`${path}.${k}: missing in ${JSON.stringify(actual)}`);
      matches(e, actual[k], `${path}.${k}`);
    }
    return;
  }
  if (expected !== actual) throw new Error(`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

function lookup(v, path) {
  if (path === '') return v;
  return path.split('.').reduce((cur, seg) => (cur == null ? undefined : cur[/^\d+$/.test(seg) ? Number(seg) : camel(seg)]), v);
}

async function run(keyward, scenario, storeKind, makeStore) {
  const { Engine, MemoryStore, KeywardError, operations } = keyward;
  const sigs = new Map(operations().map((s) => [s.op, s]));
  const faults = scenario.steps.some((s) => s.op === 'fail_store' || s.op === 'lose_races');
  const base = makeStore ? await makeStore() : storeKind === 'memory' ? new MemoryStore() : new AsyncMapStore();
  // The built-in store runs natively end to end; scenarios that inject faults wrap it.
  const faulty = faults || storeKind !== 'memory' ? new FaultyStore(base) : null;
  let now = T0;
  const events = [];
  const e = scenario.engine ?? {};
  const options = {
    store: faulty ?? base,
    clock: () => now,
    audit: (ev) => events.push(ev),
    domain: e.domain ?? undefined,
    tokenPrefix: e.token_prefix ?? undefined,
    pepper: e.pepper ?? undefined,
  };
  const engine = new Engine({ ...options, maxStalenessMs: e.max_staleness_ms ?? 0 });
  // `"via": "peer"`: another engine over the same store, without a window (another process, R-16).
  const peer = new Engine(options);
  const vars = {};
  for (const [i, step] of scenario.steps.entries()) {
    const at = `${scenario.name}, step ${i + 1} (${step.op})`;
    const args = substitute(step.args ?? {}, vars);
    if (step.op === 'advance_clock') { now += args.ms; continue; }
    if (step.op === 'fail_store') { faulty.failCalls = args.calls ?? 1; faulty.failMessage = args.message ?? 'store failed'; continue; }
    if (step.op === 'lose_races') { faulty.losePuts = args.puts ?? 1; continue; }
    const sig = sigs.get(step.op);
    if (!sig) throw new Error(`${at}: unknown op`);
    const positional = sig.positional.map((name) => (Object.hasOwn(args, name) ? args[name] : undefined));
    while (positional.length > 0 && positional[positional.length - 1] === undefined) positional.pop();
    const options = {};
    for (const [k, v] of Object.entries(args)) if (!sig.positional.includes(k)) options[camel(k)] = v;
    const call = Object.keys(options).length > 0 ? [...positional.map((v) => v ?? null), options] : positional;
    events.length = 0;
    let answer;
    let error;
    try {
      const on = step.via === 'peer' ? peer : engine;
      answer = await on[camel(step.op)](...call);
    } catch (err) {
      if (!(err instanceof KeywardError)) throw new Error(`${at}: not a KeywardError: ${err && err.stack}`);
      error = err;
    }
    if (faulty) { faulty.failCalls = 0; faulty.losePuts = 0; }
    try {
      if (step.expect_error !== undefined) {
        if (!error) throw new Error(`expected error ${JSON.stringify(step.expect_error)}, got ${JSON.stringify(answer)}`);
        const expected = typeof step.expect_error === 'string' ? { code: step.expect_error } : substitute(step.expect_error, vars);
        const data = { code: error.code, message: error.message, field: error.field, position: error.position, rules: error.rules };
        for (const k of Object.keys(data)) if (data[k] === undefined) delete data[k];
        matches(expected, data, 'error');
      } else {
        if (error) throw new Error(`unexpected error ${error.code}: ${error.message}`);
        if (step.expect !== undefined) matches(camelKeys(substitute(step.expect, vars)), answer, 'answer');
        for (const [name, path] of Object.entries(step.save ?? {})) {
          const v = lookup(answer, path);
          if (v === undefined) throw new Error(`nothing at ${path} to save in ${JSON.stringify(answer)}`);
          vars[name] = v;
        }
      }
      if (step.expect_events !== undefined) matches(camelKeys(substitute(step.expect_events, vars)), events, 'events');
    } catch (err) {
      throw new Error(`${at}: ${err.message}`);
    }
  }
}

/**
 * Registers one test per scenario and store: the built-in store and an async host store, or,
 * with `stores` ({ label: makeStore }), the stores given (each call a new, empty store).
 */
export function defineConformance(keyward, label, stores = null) {
  const kinds = stores ? Object.entries(stores) : [['memory', null], ['async host store', null]];
  for (const { file, scenario } of loadScenarios()) {
    for (const [storeKind, makeStore] of kinds) {
      test(`${label} ${storeKind}: ${file}: ${scenario.name}`, () => run(keyward, scenario, storeKind, makeStore));
    }
  }
}
