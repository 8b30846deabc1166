import { setFlagsFromString } from 'node:v8';

/**
 * Sizes V8's heap for a small server (decision 0051). Called once a command's
 * modules are loaded: from then on the young generation keeps the size that
 * loading gave it (V8 would double it, up to 32 MiB per semi-space on a large
 * machine, whenever many objects survive, as they do while a listing or a
 * walk is held), and the old generation grows in small steps, collected
 * sooner. Both flags are V8 heuristics read at every decision, so setting
 * them at run time takes effect; they cost CPU in more frequent collections
 * (docs/benchmarks.md measures how much) and change no behaviour.
 */
export function keepHeapSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--optimize-for-size');
}
