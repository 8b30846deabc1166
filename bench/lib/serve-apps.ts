// The projects of `bench serve`: two apps that are edited over and over, and
// idle workspaces that only sit in the bucket for the idle measurement.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Random } from './random.ts';

export type AppName = 'plain' | 'deps';

export const APP_NAMES: readonly AppName[] = ['plain', 'deps'];

/** What app `name` answers at `/` after edit `version`. */
export function appText(name: AppName, version: number): string {
  return `${name} v${version}\n`;
}

/** The app's entry file (the one every edit rewrites). */
export const APP_ENTRY = 'server.js';

function plainServer(version: number): string {
  return (
    `const text = ${JSON.stringify(appText('plain', version))};\n` +
    `require('node:http').createServer((req, res) => res.end(text))` +
    `.listen(Number(process.env.PORT), '0.0.0.0');\n`
  );
}

function depsServer(version: number): string {
  return (
    `const express = require('express');\n` +
    `const app = express();\n` +
    `const text = ${JSON.stringify(appText('deps', version))};\n` +
    `app.get('/', (req, res) => res.type('text').send(text));\n` +
    `app.listen(Number(process.env.PORT), '0.0.0.0');\n`
  );
}

/** The entry file of edit `version`: only code changes, never the dependency manifest. */
export function appSource(name: AppName, version: number): string {
  return name === 'plain' ? plainServer(version) : depsServer(version);
}

/** Writes both apps at version 0 under `root` (a local workspaces directory or the direct mount). */
export async function writeApps(root: string): Promise<void> {
  for (const name of APP_NAMES) {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    const pkg = {
      name,
      version: '1.0.0',
      private: true,
      scripts: { start: `node ${APP_ENTRY}` },
      ...(name === 'deps' ? { dependencies: { express: '^5.1.0' } } : {}),
    };
    await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    await writeFile(join(dir, APP_ENTRY), appSource(name, 0));
  }
}

export interface IdleShape {
  workspaces: number;
  filesPerWorkspace: number;
}

export function idleName(i: number): string {
  return `idle-${String(i + 1).padStart(2, '0')}`;
}

/**
 * Idle workspaces: static sites (an index.html at the top) with the rest of
 * their files spread over ten directories, seeded so every run is the same.
 */
export async function writeIdleWorkspaces(root: string, shape: IdleShape): Promise<void> {
  const rng = new Random(42);
  for (let w = 0; w < shape.workspaces; w++) {
    const dir = join(root, idleName(w));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'index.html'), `<!doctype html><p>${idleName(w)}</p>\n`);
    for (let f = 1; f < shape.filesPerWorkspace; f++) {
      const sub = join(dir, 'assets', `d${f % 10}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, `f${f}.txt`), 'x'.repeat(rng.int(200, 2000)));
    }
  }
}
