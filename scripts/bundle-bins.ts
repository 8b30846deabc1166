// Bundles the bins for the package (`npm run build`, and the mirror benchmark): each
// command's code and the small libraries every start loads in a handful of files, so an
// installed `bucketspace` starts without resolving and compiling some 170 modules one by one
// (decision 0073). Usage: node scripts/bundle-bins.ts <outdir> (a directory inside this
// repository or an installed package: the libraries left out are found in node_modules).
import { build } from 'esbuild';
import { cp, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/**
 * Bundled: pure JavaScript, loaded by every command's start (zod alone is 95 modules).
 * Every other dependency stays a module of its own: pino finds its transports' files at run
 * time, and the rest (the AWS SDK, dockerode, express) loads only in the commands that use it.
 */
const BUNDLED = new Set(['zod', 'commander', 'p-limit', 'ignore']);

/** The entry points: `bin/<name>.js` runs `<outdir>/<name>.js` when installed (bin/entry.js). */
const ENTRIES = {
  cli: 'services/cli.ts',
  'mount-bucket': 'services/mount-bucket.ts',
  'unmount-bucket': 'services/unmount-bucket.ts',
};

export async function bundleBins(outdir: string): Promise<void> {
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const external = Object.keys(pkg.dependencies)
    .filter((name) => !BUNDLED.has(name))
    .flatMap((name) => [name, `${name}/*`]);
  await rm(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: REPO,
    entryPoints: ENTRIES,
    outdir,
    bundle: true,
    // Each subcommand stays a chunk of its own, loaded when it runs (services/program.ts).
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    external,
    // commander is CommonJS: its `require`s of Node's modules need a require in ES modules.
    banner: {
      js: "import { createRequire as bundledCreateRequire } from 'node:module';\nconst require = bundledCreateRequire(import.meta.url);",
    },
    sourcemap: true,
    logLevel: 'warning',
  });
  // The dashboard's files, where its code (now a chunk in outdir) looks for them.
  await cp(join(REPO, 'services/monitor/http/dashboard'), join(outdir, 'dashboard'), {
    recursive: true,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [outdir] = process.argv.slice(2);
  if (!outdir) {
    console.error('usage: node scripts/bundle-bins.ts <outdir>');
    process.exit(2);
  }
  await bundleBins(resolve(outdir));
}
