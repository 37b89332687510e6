// @keyward/wasm in Node, ESM: no init call needed (init() is a no-op kept for portability).
import keyward from './node.cjs';

export const { Engine, MemoryStore, KeywardError, CODES, init } = keyward;
export default init;
