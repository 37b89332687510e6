// Serves the worker on http://127.0.0.1:8787 (or PORT) in a local workerd, through Miniflare
// alone: no wrangler needed. Run ./seed.sh first; the D1 database lives in memory, loaded from
// .seed/seed.sql at every start, and the pepper comes from .dev.vars as seed.sh wrote it.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readEnvFile, startWorker } from './local.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const { PEPPER: pepper } = await readEnvFile(join(here, '.dev.vars'));
const { mf } = await startWorker({
  pepper,
  seedSql: join(here, '.seed', 'seed.sql'),
  host: '127.0.0.1',
  port: Number(process.env.PORT ?? 8787),
});
const url = await mf.ready;
console.log(`listening on ${url}  (Ctrl-C stops)
try:  curl -i -H "Authorization: Bearer $(sed -n 's/^INFERENCE_TOKEN=//p' .seed/tokens.env)" ${url}v1/models/llama-3`);
process.once('SIGINT', () => mf.dispose().then(() => process.exit(0)));
