// Every scenario of tests/conformance, unchanged, against @keyward/wasm in Node.
import { createRequire } from 'node:module';
import { defineConformance } from '../../js/conformance.mjs';

const keyward = createRequire(import.meta.url)('../node.cjs');
defineConformance(keyward, '@keyward/wasm');
