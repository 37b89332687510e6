// Hostile inputs through @keyward/node (issue 11 point 5): the shared matrix of
// tests/hostile/inputs.json and the JavaScript-only inputs, clocks and store answers of
// tests/hostile/hostile-suite.mjs, each a typed error on an engine that stays usable.
import { createRequire } from 'node:module';
import { defineHostileTests } from '../../tests/hostile/hostile-suite.mjs';

defineHostileTests(createRequire(import.meta.url)('../index.js'), '@keyward/node');
