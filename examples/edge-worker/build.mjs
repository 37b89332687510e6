// Bundles worker.mjs for workerd the way `wrangler deploy` does, for running it under Miniflare
// alone (the test, dev.mjs): npm packages resolved with the `workerd` export condition, the
// JavaScript in one module, and each imported `.wasm` left as a module of its own beside the
// bundle, which workerd loads as a compiled WebAssembly.Module (Miniflare's `CompiledWasm` rule).
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));

/** esbuild plugin: `import wasm from '....wasm'` stays an import, of a copy beside the bundle. */
function wasmModules(outdir) {
  return {
    name: 'wasm-modules',
    setup(build) {
      build.onResolve({ filter: /\.wasm$/ }, async (args) => {
        if (args.pluginData === 'wasm-modules') return undefined; // our own lookup, below
        const found = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'wasm-modules' });
        if (found.errors.length > 0) return { errors: found.errors };
        await mkdir(outdir, { recursive: true });
        await copyFile(found.path, join(outdir, basename(found.path)));
        return { path: `./${basename(found.path)}`, external: true };
      });
    },
  };
}

/** Bundles the worker into `outdir` (default dist/); returns the path of the bundle. */
export async function buildWorker(outdir = join(here, 'dist')) {
  const outfile = join(outdir, 'worker.mjs');
  await esbuild.build({
    entryPoints: [join(here, 'worker.mjs')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    plugins: [wasmModules(outdir)],
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await buildWorker());
}
