
/**
 * Loads the WebAssembly module: needed once in browsers (`await init()`) and edge workers
 * (`init({ module })` with the imported `.wasm`, synchronous); a no-op in Node.
 */
export declare function init(options?: { module?: WebAssembly.Module; url?: string | URL }): Promise<void>;
export default init;
