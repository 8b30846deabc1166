#!/usr/bin/env node
// `bucketspace` from a checkout or the control-plane image, light: plain
// JavaScript, so it can turn on Node's compile cache before any TypeScript is
// loaded. The TypeScript entry (cli.ts) is then stripped once and comes from
// the cache afterwards, and Node's type stripper (about 12 MiB that would
// stay resident) is never loaded (decision 0054).
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
await import('./cli.ts');
