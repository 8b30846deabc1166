#!/usr/bin/env node
// The `mount-bucket` command (services/mount-bucket.ts; see entry.js).
import { run } from './entry.js';

await run('mount-bucket');
