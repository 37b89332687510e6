// The JavaScript driver of Keyward, written once and copied into both npm packages
// (@keyward/wasm and @keyward/node) by the build. It turns a native half — WebAssembly or
// N-API, both exposing NativeEngine, NativeOp and NativeMemoryStore — into the
// public API of API.md: `new Engine({ store, domain, tokenPrefix, clock, audit, pepper })` whose
// methods (camelCase) always return Promises.
//
// It holds no engine logic: an operation is a step machine in Rust; this file only answers its
// store requests, awaiting the host store when it answers with Promises, turns host
// failures into `failed` replies, hands events to the audit callback and throws
// errors with `.code`.


const CODES = [
  'invalid_argument', 'invalid_filter', 'invalid_credentials', 'token_expired', 'token_revoked',
  'account_disabled', 'account_revoked', 'channel_not_allowed', 'not_found', 'already_exists',
  'forbidden', 'not_owner', 'weak_password', 'failed_precondition', 'quota_exceeded', 'conflict',
  'store_error', 'internal',
];

const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

function message(error) {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'the host store failed';
  }
}

// The range of an i64, as the closest doubles: a clock answer must lie in [I64_MIN, I64_MAX).
const I64_MIN = -9223372036854775808;
const I64_MAX = 9223372036854775808;

/**
 * A version from the host store: a positive integer, never a boolean, a fraction, 0 or a
 * string. Throws, which `answer` turns into a `failed` reply.
 */
function version(v, call) {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  throw new Error(`the store's \`${call}\` answered version ${typeof v === 'string' ? JSON.stringify(v) : String(v)}; versions are positive integers`);
}

/**
 * An entry from the host store: `{value, version}` whose value is a string (the stored JSON
 * text) and whose version passes `version`; `null` or `undefined` for none. Anything else is
 * outside the protocol: thrown, so the call fails with `store_error`, never `internal`.
 */
function entryOf(entry, call) {
  if (entry == null) return null;
  if (typeof entry.value !== 'string') throw new Error(`the store's \`${call}\` answered a value that is not a string`);
  return { value: entry.value, version: version(entry.version, call) };
}

/** A `list` answer: an array (or other iterable) of `{key, value, version}` with string keys. */
function listed(entries) {
  if (entries == null || typeof entries !== 'object' || typeof entries[Symbol.iterator] !== 'function') {
    throw new Error("the store's `list` answered something that is not a list");
  }
  return Array.from(entries, (e) => {
    if (typeof e?.key !== 'string') throw new Error("the store's `list` answered a key that is not a string");
    return { key: e.key, ...entryOf(e, 'list') };
  });
}

/**
 * @param {object} native  the native half; values cross it as JSON text
 */
export function createKeyward(native) {
  const out = (v) => JSON.stringify(v);
  const back = (v) => JSON.parse(v);

  /** An error of the engine: `.code` is one of SPEC §12's codes. */
  class KeywardError extends Error {
    constructor(data) {
      super(data.message);
      this.name = 'KeywardError';
      this.code = data.code;
      if (data.field !== undefined) this.field = data.field;
      if (data.position !== undefined) this.position = data.position;
      if (data.rules !== undefined) this.rules = data.rules;
    }
  }

  const internal = (e) => new KeywardError({ code: 'internal', message: `the engine failed: ${message(e)}` });

  /** Calls into the native half; a trap or panic there becomes `internal`, never a crash. */
  function guard(f) {
    try {
      return f();
    } catch (e) {
      throw e instanceof KeywardError ? e : internal(e);
    }
  }

  /**
   * The pepper's bytes: a string as UTF-8, as in every host, or bytes. Anything else is
   * refused rather than read as something else — `new Uint8Array(5)` would be five zero
   * bytes, `{}` no bytes, `[300]` the byte 44 — and a string holding a lone surrogate, which
   * UTF-8 would write as U+FFFD (two different peppers, one key), is `invalid_argument`.
   */
  function pepperBytes(pepper) {
    if (pepper == null) return undefined;
    if (typeof pepper === 'string') {
      if (/[\uD800-\uDFFF]/u.test(pepper)) throw invalid('pepper', 'is not valid Unicode (it holds a lone surrogate)');
      return new TextEncoder().encode(pepper);
    }
    if (pepper instanceof ArrayBuffer) return new Uint8Array(pepper);
    if (ArrayBuffer.isView(pepper)) return new Uint8Array(pepper.buffer, pepper.byteOffset, pepper.byteLength);
    if (Array.isArray(pepper) && pepper.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return Uint8Array.from(pepper);
    throw new TypeError('pepper must be a string or bytes (a Uint8Array, an ArrayBuffer, or a list of integers from 0 to 255)');
  }

  /** The built-in in-memory store. Also usable through the store protocol (get/put/delete/list). */
  class MemoryStore {
    #native;
    constructor() {
      this.#native = guard(() => new native.NativeMemoryStore());
    }
    /** @internal */
    static native(store) {
      return store.#native;
    }
    #request(request) {
      const reply = back(this.#native.request(out(request)));
      if (reply.kind === 'failed') throw new Error(reply.message);
      return reply;
    }
    get(key) {
      return this.#request({ kind: 'get', key }).entry ?? null;
    }
    put(key, value, expectedVersion) {
      return this.#request({ kind: 'put', key, value, expectedVersion: expectedVersion ?? null }).version ?? null;
    }
    delete(key, expectedVersion) {
      return this.#request({ kind: 'delete', key, expectedVersion }).ok;
    }
    list(prefix, after, limit) {
      return this.#request({ kind: 'list', prefix, after: after ?? null, limit }).entries;
    }
    getMany(keys) {
      return Array.from(keys, (key) => this.get(key));
    }
  }

  async function answer(store, request) {
    try {
      switch (request.kind) {
        case 'get': {
          return { kind: 'got', entry: entryOf(await store.get(request.key), 'get') };
        }
        case 'put': {
          const written = await store.put(request.key, request.value, request.expectedVersion ?? null);
          return { kind: 'put', version: written == null ? null : version(written, 'put') };
        }
        case 'delete':
          return { kind: 'deleted', ok: Boolean(await store.delete(request.key, request.expectedVersion)) };
        case 'list': {
          return { kind: 'listed', entries: listed(await store.list(request.prefix, request.after ?? null, request.limit)) };
        }
        default:
          return { kind: 'failed', message: `unknown store request ${request.kind}` };
      }
    } catch (e) {
      return { kind: 'failed', message: message(e) };
    }
  }

  /**
   * Answers one round of store requests. A round of several reads goes to the store's optional
   * `getMany` in one call (one SQL query, one round trip) when it has one; anything else is one
   * call per request, all at once. Every answer is checked as `answer` checks one: a
   * `getMany` that throws, or answers the wrong number of entries or a bad version, fails the
   * whole round.
   */
  async function answerAll(store, requests) {
    if (requests.length > 1 && typeof store.getMany === 'function' && requests.every((r) => r.kind === 'get')) {
      try {
        const entries = Array.from((await store.getMany(requests.map((r) => r.key))) ?? [], (entry) => entryOf(entry, 'getMany'));
        if (entries.length !== requests.length) {
          throw new Error(`the store's \`getMany\` answered ${entries.length} entries for ${requests.length} keys`);
        }
        return entries.map((entry) => ({ kind: 'got', entry }));
      } catch (e) {
        const failed = { kind: 'failed', message: message(e) };
        return requests.map(() => failed);
      }
    }
    return Promise.all(requests.map((request) => answer(store, request)));
  }

  /** A Keyward engine over a host store (any object with get/put/delete/list) or the built-in one. */
  class Engine {
    #native;
    #store;
    #memory;
    #clock;
    #audit;

    constructor(options = {}) {
      if (options != null && typeof options !== 'object') throw new TypeError('the options must be an object');
      const { store = null, domain = 'keyward.local', tokenPrefix = 'kw', clock = null, audit = null, pepper = null, maxStalenessMs = 0 } = options ?? {};
      // Checked here: the native half would fail converting them — `internal` from N-API, a
      // trap of the WebAssembly module (an out-of-bounds write) from wasm-bindgen.
      for (const [name, text] of [['domain', domain], ['tokenPrefix', tokenPrefix]]) {
        if (typeof text !== 'string') throw new TypeError(`${name} must be a string`);
      }
      for (const [name, f] of [['clock', clock], ['audit', audit]]) {
        if (f != null && typeof f !== 'function') throw new TypeError(`${name} must be a function`);
      }
      if (store != null && !(store instanceof MemoryStore)) {
        for (const m of ['get', 'put', 'delete', 'list']) {
          if (typeof store[m] !== 'function') throw new TypeError(`store.${m} must be a function`);
        }
        if (store.getMany != null && typeof store.getMany !== 'function') throw new TypeError('store.getMany must be a function when present');
      }
      const bytes = pepperBytes(pepper);
      try {
        // Not a number: NaN, which the core refuses as `invalid_argument` like any bad value.
        const staleness = typeof maxStalenessMs === 'number' ? maxStalenessMs : NaN;
        this.#native = new native.NativeEngine(domain, tokenPrefix, bytes && JSON.stringify(Array.from(bytes)), staleness, audit != null);
      } catch (e) {
        const text = e instanceof Error ? e.message : e;
        let data;
        try {
          data = typeof text === 'string' ? JSON.parse(text) : text;
        } catch {
          throw internal(e);
        }
        throw data && data.error ? new KeywardError(data.error) : internal(e);
      }
      this.#store = store ?? new MemoryStore();
      this.#memory = this.#store instanceof MemoryStore ? MemoryStore.native(this.#store) : null;
      this.#clock = clock ?? (() => Date.now());
      this.#audit = audit;
    }

    /** The store this engine reads and writes. */
    get store() {
      return this.#store;
    }

    #emit(events) {
      if (!this.#audit) return;
      for (const event of events) {
        try {
          const r = this.#audit(event);
          if (r && typeof r.then === 'function') r.then(undefined, () => {});
        } catch {
          // a failing audit callback changes no outcome.
        }
      }
    }

    /**
     * The host clock's answer: a finite number of ms within an i64, floored. Anything
     * else — NaN, ±Infinity, a string, undefined, an object — or a clock that throws fails the
     * call like a failing callback: `store_error`, never read as 0.
     */
    #now() {
      let t;
      try {
        t = this.#clock();
      } catch (e) {
        throw new KeywardError({ code: 'store_error', message: `store error: ${message(e)}` });
      }
      if (typeof t === 'bigint' && t >= -(2n ** 63n) && t < 2n ** 63n) t = Number(t);
      if (typeof t !== 'number' || !Number.isFinite(t) || Math.floor(t) < I64_MIN || Math.floor(t) >= I64_MAX) {
        const shown = typeof t === 'number' || typeof t === 'bigint' ? String(t) : typeof t;
        throw new KeywardError({ code: 'store_error', message: `store error: the clock answered ${shown}, not milliseconds since the epoch` });
      }
      return Math.floor(t);
    }

    /** Runs operation `spec` with a JavaScript argument list. */
    async _call(spec, args) {
      const [op, named] = namedArgs(spec, args);
      const now = this.#now();
      const argsOut = argsText(named);
      if (this.#memory) {
        const r = back(guard(() => this.#native.runMemory(this.#memory, op, argsOut, now)));
        this.#emit(r.events ?? []);
        if (r.error) throw new KeywardError(r.error);
        return r.done;
      }
      const nativeOp = guard(() => this.#native.start(op, argsOut, now));
      for (;;) {
        const step = back(guard(() => nativeOp.step()));
        if (step.need) {
          const replies = await answerAll(this.#store, step.need);
          guard(() => nativeOp.provide(out(replies)));
          continue;
        }
        this.#emit(back(guard(() => nativeOp.events())));
        if (step.error) throw new KeywardError(step.error);
        return step.done;
      }
    }
  }

  /**
   * An operation's named arguments (API.md's names) from a JavaScript argument list: the
   * positional values, then — when the operation has keyword-only parameters — one trailing
   * options object whose camelCase keys name them. An omitted (undefined or null) optional
   * positional takes its default; nested values go to the engine as they are.
   */
  function namedArgs([op, positional, required, keywords], given) {
    const args = [...given];
    let options = null;
    const last = args[args.length - 1];
    if (keywords.length > 0 && args.length > required && last !== null && typeof last === 'object' && !Array.isArray(last)) {
      options = args.pop();
    }
    while (args.length > required && args[args.length - 1] == null) args.pop();
    if (args.length > positional.length) throw invalid('args', `\`${op}\` takes ${positional.length} positional arguments, ${args.length} given`);
    const named = {};
    args.forEach((value, i) => {
      if (i < required || value != null) named[positional[i]] = value ?? null;
    });
    for (const [key, value] of Object.entries(options ?? {})) {
      const spelled = (k) => k === key || camel(k) === key;
      const positionalName = positional.find(spelled);
      if (positionalName !== undefined) throw invalid(positionalName, `\`${op}\` takes it as a positional argument, not an option`);
      const name = keywords.find(spelled);
      // Named only when it looks like a name: an error never echoes what could be a secret.
      if (name === undefined) throw invalid(key, `\`${op}\` has no such option`);
      if (value !== undefined) named[name] = value;
    }
    return [op, named];
  }

  /** `invalid_argument` naming `key` when it looks like a name, `args` otherwise. */
  function invalid(key, what) {
    const field = /^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(key) ? key : 'args';
    return new KeywardError({ code: 'invalid_argument', field, message: `invalid argument \`${field}\`: ${what}` });
  }

  /**
   * Refuses, at any depth of argument `key`'s value, what JSON would not write faithfully: a
   * number it cannot hold, and a function, symbol, Map or Set, which `JSON.stringify` drops or
   * writes as `{}` — a call would silently take its default, or do nothing, instead of failing.
   */
  function finite(key, value) {
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw invalid(key, 'must be a finite number');
    } else if (typeof value === 'function' || typeof value === 'symbol') {
      throw invalid(key, `a ${typeof value} is not a value`);
    } else if (value !== null && typeof value === 'object') {
      if (value instanceof Map || value instanceof Set) throw invalid(key, 'a Map or Set is not a value: pass a plain object or array');
      for (const item of Object.values(value)) finite(key, item);
    }
  }

  /**
   * Named arguments as JSON text. JSON has no NaN or Infinity (`JSON.stringify` would write
   * null, which means "the default"), so they are refused; a BigInt argument within 2^53
   * becomes a number. Values nested too deeply, or that cannot be written (a BigInt inside an
   * object), are `invalid_argument` too — never a host error. Strings, the hot path's
   * arguments, are not looked at twice.
   */
  function argsText(named) {
    let current = null;
    try {
      for (const [key, value] of Object.entries(named)) {
        current = key;
        if (typeof value === 'bigint') {
          if (value < -(2n ** 53n) || value > 2n ** 53n) throw invalid(key, 'is out of range');
          named[key] = Number(value);
        } else if (typeof value !== 'string') {
          finite(key, value);
        }
      }
      current = null;
      return JSON.stringify(named);
    } catch (e) {
      if (e instanceof KeywardError) throw e;
      // The argument at fault (a BigInt inside an object, a value that refers to itself),
      // looked for only now, off the hot path.
      current ??= Object.keys(named).find((key) => {
        try {
          JSON.stringify(named[key]);
          return false;
        } catch {
          return true;
        }
      });
      throw invalid(current ?? 'args', e instanceof RangeError ? 'nested too deeply' : 'cannot be written as JSON');
    }
  }

  // One method per operation of API.md, named in camelCase.
  for (const spec of OPERATIONS) {
    Object.defineProperty(Engine.prototype, camel(spec[0]), {
      value: function (...args) {
        return this._call(spec, args);
      },
      writable: true,
      configurable: true,
    });
  }

  /** The operation table: `[{op, positional, required, keywords}]`, names in snake_case. */
  const operations = () => OPERATIONS.map(([op, positional, required, keywords]) => ({ op, positional, required, keywords }));

  return { Engine, MemoryStore, KeywardError, CODES, operations };
}

// The operations of API.md: `[op, positional, required, keywords]`, names as API.md spells
// them (snake_case).
// BEGIN GENERATED: operations (make stubs)
export const OPERATIONS = [
  ['create_tenant', ['tenant'], 1, ['admin', 'name', 'settings']],
  ['get_tenant', ['actor', 'tenant'], 2, []],
  ['update_tenant_settings', ['actor', 'tenant', 'settings'], 3, []],
  ['define_role', ['actor', 'tenant', 'role', 'grants'], 4, []],
  ['delete_role', ['actor', 'tenant', 'role'], 3, []],
  ['create_group', ['actor', 'tenant', 'group'], 3, ['roles', 'grants']],
  ['delete_group', ['actor', 'tenant', 'group'], 3, []],
  ['add_group_member', ['actor', 'tenant', 'group', 'principal'], 4, []],
  ['remove_group_member', ['actor', 'tenant', 'group', 'principal'], 4, []],
  ['grant_group_permissions', ['actor', 'tenant', 'group', 'grants'], 4, []],
  ['revoke_group_permissions', ['actor', 'tenant', 'group', 'grants'], 4, []],
  ['create_user', ['actor', 'tenant', 'email'], 3, ['name', 'role', 'mfa']],
  ['remove_user', ['actor', 'tenant', 'email'], 3, []],
  ['sync_directory', ['actor', 'tenant', 'users'], 3, []],
  ['create_service_account', ['actor', 'tenant', 'name'], 3, ['description', 'role', 'grants', 'password']],
  ['get_account', ['actor', 'tenant', 'principal'], 3, []],
  ['list_accounts', ['actor', 'tenant'], 2, ['filter', 'page_size', 'page_token']],
  ['update_service_account', ['actor', 'principal'], 2, ['description']],
  ['set_role', ['actor', 'tenant', 'principal', 'role'], 4, []],
  ['grant_permissions', ['actor', 'tenant', 'principal', 'grants'], 4, []],
  ['revoke_permissions', ['actor', 'tenant', 'principal', 'grants'], 4, []],
  ['grant_access', ['actor', 'tenant', 'principal'], 3, ['role', 'grants']],
  ['remove_access', ['actor', 'tenant', 'principal'], 3, []],
  ['disable_account', ['actor', 'principal'], 2, []],
  ['enable_account', ['actor', 'principal'], 2, []],
  ['revoke_account', ['actor', 'principal'], 2, []],
  ['delete_account', ['actor', 'principal'], 2, []],
  ['set_password', ['actor', 'principal', 'password'], 3, []],
  ['create_token', ['actor', 'principal'], 2, ['name', 'ttl_days', 'expires_at', 'never_expires', 'scopes']],
  ['list_tokens', ['actor', 'principal'], 2, []],
  ['rename_token', ['actor', 'principal', 'token_id', 'name'], 4, []],
  ['revoke_token', ['actor', 'principal', 'token_id'], 3, []],
  ['rotate_token', ['actor', 'principal', 'token_id'], 3, ['grace_seconds']],
  ['seat_usage', ['actor', 'tenant'], 2, []],
  ['audit_log', ['actor', 'tenant'], 2, ['filter', 'page_size', 'page_token']],
  ['authenticate', ['token'], 1, ['channel']],
  ['authenticate_password', ['principal', 'password'], 2, ['channel']],
  ['authorize', ['identity_or_principal', 'tenant', 'permission', 'resource'], 3, []],
  ['verify', ['token', 'tenant', 'permission', 'resource'], 3, ['channel']],
  ['effective_permissions', ['identity_or_principal', 'tenant'], 2, []],
];
// END GENERATED: operations
