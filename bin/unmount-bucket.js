#!/usr/bin/env node
// The `unmount-bucket` command (services/unmount-bucket.ts; see entry.js).
import { run } from './entry.js';

await run('unmount-bucket');
