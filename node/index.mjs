// ESM entry of @keyward/node.
import keyward from './index.js';

export const { Engine, MemoryStore, KeywardError, CODES } = keyward;
export default keyward;
