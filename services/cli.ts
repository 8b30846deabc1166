#!/usr/bin/env node
// The one `bucketspace` entry point. It turns on Node's compile cache before
// loading anything else: the AWS SDK and friends then start in half the time.
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const { main } = await import('./program.ts');
process.exitCode = await main(process.argv.slice(2));
