#!/usr/bin/env node
// `unmount-bucket <bucket|s3://bucket>`: unmount, remove its links, forget it.
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const { unmountBucketMain } = await import('./program.ts');
process.exitCode = await unmountBucketMain(process.argv.slice(2));
