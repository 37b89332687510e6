// Hostile inputs through @keyward/wasm in Node (issue 11 point 5): the shared matrix of
// tests/hostile/inputs.json and the JavaScript-only inputs, clocks and store answers of
// tests/hostile/hostile-suite.mjs, each a typed error on an engine that stays usable (a trap
// in the module must surface as `internal`, never end the process).
import { createRequire } from 'node:module';
import { defineHostileTests } from '../../tests/hostile/hostile-suite.mjs';

defineHostileTests(createRequire(import.meta.url)('@keyward/wasm'), '@keyward/wasm');
