#!/usr/bin/env node
// The one `bucketspace` entry point. Plain JavaScript, so that starting it never
// loads Node's TypeScript stripper (about 12 MiB that would stay resident);
// it turns on Node's compile cache before loading anything else, so the
// TypeScript behind it is stripped once and the AWS SDK and friends start
// in half the time.
import { enableCompileCache } from 'node:module';
import process from 'node:process';

enableCompileCache?.();
const { main } = await import('./program.ts');
process.exitCode = await main(process.argv.slice(2));
