// The worker in a local workerd through Miniflare, configured from wrangler.toml, with a real D1
// binding holding what seed.sh provisioned. Used by the test and by dev.mjs.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { buildWorker } from './build.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));

/** wrangler.toml, read by Python's tomllib (Node has no TOML parser; seed.sh reads it the same way). */
export function wranglerConfig() {
  const read = 'import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], "rb"))))';
  return JSON.parse(execFileSync('python3', ['-c', read, join(here, 'wrangler.toml')], { encoding: 'utf8' }));
}

/** `NAME=value` lines (tokens.env, .dev.vars) as an object. */
export async function readEnvFile(path) {
  const text = await readFile(path, 'utf8');
  return Object.fromEntries(text.split('\n').filter((line) => line.includes('=')).map((line) => {
    const at = line.indexOf('=');
    return [line.slice(0, at), line.slice(at + 1)];
  }));
}

/**
 * Starts the worker: bundles it, starts workerd with wrangler.toml's vars and D1 binding plus
 * the pepper, and applies `seedSql` (seed.sh's seed.sql) to the D1 database, as
 * `wrangler d1 execute --file` would. `vars` override wrangler.toml's (e.g. MAX_STALENESS_MS);
 * other Miniflare options (a port, stdio handlers) pass through.
 */
export async function startWorker({ pepper, seedSql, vars = {}, ...options }) {
  const config = wranglerConfig();
  const script = await buildWorker();
  const [d1] = config.d1_databases;
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: config.compatibility_date,
    bindings: { ...config.vars, ...vars, PEPPER: pepper },
    d1Databases: [d1.binding],
    ...options,
  });
  try {
    const db = await mf.getD1Database(d1.binding);
    // seed.sql holds one statement per line, which is what D1's exec() splits on.
    await db.exec(await readFile(seedSql, 'utf8'));
    return { mf, db };
  } catch (error) {
    await mf.dispose();
    throw error;
  }
}
