// ESM entry of @keyward/node/testing: the store conformance suite (js/testing.mjs).
import testing from './testing.cjs';

export const { checkStore, compareKeys } = testing;
