// @keyward/wasm for browsers and edge workers (wasm-bindgen `web` target). One init call
// before the first engine call:
//   browsers:  await init();                        // fetches keyward_wasm_bg.wasm beside this file
//   workerd:   import wasm from './keyward_wasm_bg.wasm'; init({ module: wasm });  (synchronous)
import wasmInit, { initSync } from './web/keyward_wasm.js';
import * as native from './web/keyward_wasm.js';
import { createKeyward } from './driver.mjs';

/**
 * Loads the WebAssembly module. With `{ module }` (a compiled `WebAssembly.Module`, as edge
 * runtimes import it) it is synchronous; otherwise it fetches the module and returns a Promise.
 */
export function init(options) {
  if (options && options.module) {
    initSync({ module: options.module });
    return Promise.resolve();
  }
  return wasmInit(options && options.url ? { module_or_path: options.url } : undefined).then(() => undefined);
}

export const { Engine, MemoryStore, KeywardError, CODES } = createKeyward(native);
export default init;
