// The store conformance suite of Keyward's JavaScript hosts (API.md "Store adapters"), written
// once and copied into both npm packages (@keyward/node/testing, @keyward/wasm/testing). Whoever
// writes a store adapter proves it with `await checkStore(makeStore)`: it throws an Error naming
// the first broken promise of the store protocol. No imports: it runs in Node, workerd and
// browsers alike.

const utf8 = new TextEncoder();

/** Bytewise (UTF-8) comparison of two strings: the order of Rust's `str` and of every store. */
export function compareKeys(a, b) {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** JSON text of a value, clipped to `max` characters (a 200 kB value stays readable). */
const show = (v, max = 2000) => {
  let text;
  try {
    text = JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
};

function same(a, b) {
  return show(a, Infinity) === show(b, Infinity);
}

class StoreCheckFailed extends Error {
  constructor(check, message) {
    super(`checkStore: ${check}: ${message}`);
    this.name = 'StoreCheckFailed';
  }
}

/**
 * Checks a store against the store protocol. `makeStore()` (may be async) returns a new, empty
 * store each time it is called. Options: `writers` (concurrent writers, default 8) and
 * `increments` (per writer, default 10); `getMany: true` demands the optional `getMany`.
 * Resolves to the names of the checks that ran.
 */
export async function checkStore(makeStore, options = {}) {
  if (typeof makeStore !== 'function') throw new TypeError('checkStore(makeStore): makeStore must be a function returning a store');
  const { writers = 8, increments = 10, getMany: requireGetMany = false } = options;
  const ran = [];

  async function section(name, body) {
    const store = await makeStore();
    for (const m of ['get', 'put', 'delete', 'list']) {
      if (!store || typeof store[m] !== 'function') throw new StoreCheckFailed(name, `the store has no ${m}() method`);
    }
    const call = async (method, ...args) => {
      try {
        return await store[method](...args);
      } catch (e) {
        throw new StoreCheckFailed(name, `${method}(${args.map((a) => show(a, 200)).join(', ')}) threw: ${e && e.message ? e.message : show(e)}`);
      }
    };
    const expect = async (method, args, expected, why = '') => {
      const got = await call(method, ...args);
      if (!same(got, expected)) {
        throw new StoreCheckFailed(name, `${method}(${args.map((a) => show(a, 200)).join(', ')}) answered ${show(got)}, expected ${show(expected)}${why ? ` (${why})` : ''}`);
      }
      return got;
    };
    try {
      await body({ store, call, expect, fail: (m) => { throw new StoreCheckFailed(name, m); } });
    } finally {
      if (typeof store.close === 'function') await store.close();
    }
    ran.push(name);
  }

  await section('compare-and-set on a new key', async ({ expect }) => {
    await expect('get', ['k'], null, 'a new store is empty');
    await expect('put', ['k', 'v1', 5], null, 'a missing key has no version 5');
    await expect('get', ['k'], null, 'a failed put writes nothing');
    await expect('put', ['k', 'v1', null], 1, 'a new key starts at version 1');
    await expect('get', ['k'], { value: 'v1', version: 1 });
    await expect('put', ['k', 'other', null], null, 'the key exists: putting it as new is a conflict');
    await expect('get', ['k'], { value: 'v1', version: 1 }, 'a conflict changes nothing');
  });

  await section('compare-and-set on an existing key, stale versions', async ({ expect }) => {
    await expect('put', ['k', 'v1', null], 1);
    await expect('put', ['k', 'v2', 1], 2, 'the current version wins and the version grows by one');
    await expect('put', ['k', 'v3', 1], null, 'version 1 is stale');
    await expect('put', ['k', 'v3', 3], null, 'version 3 does not exist yet');
    await expect('get', ['k'], { value: 'v2', version: 2 });
    await expect('put', ['k', 'v3', 2], 3);
    const text = '{"quote":"\\"","nul":"\\u0000","é":"ü","astral":"\u{1F600}"} \n\t\'%_';
    await expect('put', ['k', text, 3], 4, 'any text is a value');
    await expect('get', ['k'], { value: text, version: 4 }, 'values come back byte for byte');
    await expect('put', ['k', '', 4], 5, 'the empty string is a value');
    await expect('get', ['k'], { value: '', version: 5 });
    const big = 'x'.repeat(200_000);
    await expect('put', ['k', big, 5], 6, 'a 200 kB value');
    await expect('get', ['k'], { value: big, version: 6 });
    await expect('get', ['K'], null, 'keys are case-sensitive');
  });

  await section('deletes', async ({ expect }) => {
    await expect('delete', ['k', 1], false, 'a missing key cannot be deleted');
    await expect('put', ['k', 'v1', null], 1);
    await expect('put', ['k', 'v2', 1], 2);
    await expect('delete', ['k', 1], false, 'version 1 is stale');
    await expect('get', ['k'], { value: 'v2', version: 2 }, 'a failed delete changes nothing');
    await expect('delete', ['k', 2], true);
    await expect('get', ['k'], null);
    await expect('delete', ['k', 2], false, 'a deleted key is gone');
    await expect('put', ['k', 'again', 2], null, 'a deleted key has no version');
    await expect('put', ['k', 'again', null], 1, 'a deleted key is new again');
    await expect('list', ['', null, 10], [{ key: 'k', value: 'again', version: 1 }]);
  });

  const keys = [
    'a', 'a/', 'a/b', 'a/b/c', 'a/bb', 'a/z', 'a/é', 'a/\u{10000}', 'a/\uE000', 'a/\uFFFD', 'a/\u007F', 'a/%', 'a/_x', 'a%',
    'a_', 'ab', 'a0', 'b', '\u00E9', 'a/b\u0301', 'a/\u{1F600}/x', 'a/\uD7FF', 'A',
  ];
  const sorted = [...keys].sort(compareKeys);
  const entry = (key) => ({ key, value: `value of ${key}`, version: 1 });

  await section('list in bytewise key order, non-ASCII keys, prefixes of prefixes', async ({ expect }) => {
    // Written in a shuffled order, so that insertion order is not the answer.
    for (const key of [...keys].reverse()) await expect('put', [key, `value of ${key}`, null], 1);
    await expect('list', ['', null, 100], sorted.map(entry), 'every key, in bytewise (UTF-8) order: U+E000 before U+10000');
    for (const prefix of ['a', 'a/', 'a/b', 'a/b/', 'a/\u{10000}', 'a/\uE000', 'a%', 'a_', 'a/_', 'a/%', 'é', 'c', 'a/b\u0301']) {
      const want = sorted.filter((k) => k.startsWith(prefix)).map(entry);
      await expect('list', [prefix, null, 100], want, `the keys starting with ${show(prefix)}, and no other (% and _ are not wildcards)`);
    }
    await expect('list', ['a/', null, 0], [], 'limit 0');
  });

  await section('list paging: after and limit', async ({ expect, fail, call }) => {
    for (const key of keys) await expect('put', [key, `value of ${key}`, null], 1);
    for (const prefix of ['', 'a', 'a/']) {
      const want = sorted.filter((k) => k.startsWith(prefix));
      for (const limit of [1, 2, 3, 7]) {
        const seen = [];
        let after = null;
        for (let pages = 0; ; pages++) {
          if (pages > want.length + 1) fail(`list(${show(prefix)}, …, ${limit}) never ends`);
          const page = await call('list', prefix, after, limit);
          if (!Array.isArray(page)) fail(`list answered ${show(page)}, not an array`);
          if (page.length > limit) fail(`list(${show(prefix)}, ${show(after)}, ${limit}) answered ${page.length} entries`);
          seen.push(...page.map((e) => e.key));
          if (page.length < limit) break;
          after = page[page.length - 1].key;
        }
        if (!same(seen, want)) fail(`paging list(${show(prefix)}) by ${limit} gave ${show(seen)}, expected ${show(want)}`);
      }
    }
    // `after` anywhere: before the prefix, inside it (a key or not), past it.
    for (const [prefix, after] of [['a/', 'a'], ['a/', 'a/\uE000'], ['a/', 'a/\uFFFF'], ['a/', 'a/c'], ['a/', 'b'], ['a/', ''], ['a', 'a/b'], ['', 'a/\u{10000}']]) {
      const want = sorted.filter((k) => k.startsWith(prefix) && compareKeys(k, after) > 0).map(entry);
      await expect('list', [prefix, after, 100], want, `keys after ${show(after)}, bytewise`);
    }
  });

  await section('getMany: one answer per key, in order, null for misses', async ({ store, expect, fail }) => {
    if (typeof store.getMany !== 'function') {
      if (requireGetMany) fail('the store has no getMany() method');
      return;
    }
    await expect('put', ['x/1', 'one', null], 1);
    await expect('put', ['x/2', 'two', null], 1);
    await expect('put', ['x/2', 'two!', 1], 2);
    await expect('put', ['x/\u{10000}', 'astral', null], 1);
    await expect('getMany', [['x/2', 'x/missing', 'x/1', 'x/\u{10000}']],
      [{ value: 'two!', version: 2 }, null, { value: 'one', version: 1 }, { value: 'astral', version: 1 }]);
    await expect('getMany', [['x/1', 'x/1']], [{ value: 'one', version: 1 }, { value: 'one', version: 1 }], 'a key asked twice');
    await expect('getMany', [['nope', 'nada']], [null, null]);
    await expect('getMany', [['x/1']], [{ value: 'one', version: 1 }]);
    const many = Array.from({ length: 250 }, (_, i) => (i % 2 ? `x/${i}` : 'x/1'));
    const got = await store.getMany(many);
    if (!same(got, many.map((k) => (k === 'x/1' ? { value: 'one', version: 1 } : null)))) fail(`getMany of 250 keys answered ${show(got).slice(0, 200)}`);
  });

  await section('concurrent writers lose no update', async ({ call, fail }) => {
    const key = 'counter';
    const writer = async () => {
      for (let i = 0; i < increments; i++) {
        for (let attempt = 0; ; attempt++) {
          if (attempt > 10_000) fail('a writer never won its compare-and-set');
          const current = await call('get', key);
          const n = current ? Number(current.value) : 0;
          const written = await call('put', key, String(n + 1), current ? current.version : null);
          if (written !== null) {
            if (written !== (current ? current.version + 1 : 1)) fail(`put answered version ${show(written)} after ${show(current)}`);
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: writers }, writer));
    const final = await call('get', key);
    const want = writers * increments;
    if (!final || final.value !== String(want) || final.version !== want) {
      fail(`after ${want} increments by ${writers} concurrent writers the counter is ${show(final)}: updates were lost`);
    }
  });

  return ran;
}
