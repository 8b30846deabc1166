#!/usr/bin/env node
// `mount-bucket <bucket|s3://bucket> [--root DIR]`, `--status <bucket>`, `--list`.
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const { mountBucketMain } = await import('./program.ts');
process.exitCode = await mountBucketMain(process.argv.slice(2));
