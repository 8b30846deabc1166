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

/**
 * The V8 flags of `tuneHeapForTransfers` (decision 0074): the young
 * generation keeps the size loading gave it, and a full collection starts
 * when 90% of the old generation's room to its limit is used (95%: at once)
 * instead of whenever that room is smaller than the young generation.
 */
export const TRANSFER_HEAP_FLAGS: readonly string[] = [
  '--semi-space-growth-factor=1',
  '--incremental-marking-soft-trigger=90',
  '--incremental-marking-hard-trigger=95',
];

/**
 * V8 major versions known to have every flag of TRANSFER_HEAP_FLAGS (13:
 * Node 24; 14: Node 25 and 26). V8's own flags come and go between versions
 * (Node 24's `--scavenger-max-new-space-capacity-mb` is gone from Node 25's),
 * and setting one V8 does not know prints an error on every run.
 */
const TRANSFER_FLAGS_CHECKED = new Set([13, 14]);

/** The flags `tuneHeapForTransfers` sets on this V8 version: none on a version not checked. */
export function transferHeapFlags(v8Version: string): readonly string[] {
  return TRANSFER_FLAGS_CHECKED.has(Number.parseInt(v8Version, 10)) ? TRANSFER_HEAP_FLAGS : [];
}

/**
 * Tunes V8's collector for a command that streams many transfers (the
 * `mirror` commands; never the library, which runs in its caller's process):
 * a download of 5,000 small files and one of 200 MB ran 20-31 full
 * collections with the defaults, 1 with these flags: about 20% less CPU and
 * 30 MiB less peak memory (decision 0074). Called when a mirror command
 * starts; changes no behaviour.
 */
export function tuneHeapForTransfers(v8Version: string = process.versions.v8): void {
  for (const flag of transferHeapFlags(v8Version)) setFlagsFromString(flag);
}
