#!/usr/bin/env node
// The `bucketspace` command (services/cli.ts; see entry.js).
import { run } from './entry.js';

await run('cli');
