// Every scenario of tests/conformance, unchanged, against @keyward/node.
import { createRequire } from 'node:module';
import { defineConformance } from '../../js/conformance.mjs';

const keyward = createRequire(import.meta.url)('../index.js');
defineConformance(keyward, '@keyward/node');
