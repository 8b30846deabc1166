// Which file a bin runs. Node strips TypeScript types only outside
// node_modules: an installed package runs its bundled bins in dist/bin/
// (`npm pack` builds them: scripts/bundle-bins.ts, decision 0073), a checkout
// runs its services/ sources directly. Node's compile cache is turned on
// first, so whatever the bin loads (and, from a checkout, the stripped
// TypeScript) comes from the cache after the first run, and Node's type
// stripper is not loaded again (decision 0054).
import { enableCompileCache } from 'node:module';

enableCompileCache?.();

const installed = import.meta.url.includes('/node_modules/');

/** Runs `services/<name>.ts` (a checkout) or `dist/bin/<name>.js` (installed). */
export async function run(name) {
  await import(installed ? `../dist/bin/${name}.js` : `../services/${name}.ts`);
}
