import type cliProgressTypes from 'cli-progress';
import { createRequire } from 'node:module';
import { formatBytes } from '../common/format-bytes.ts';
import type { ProgressSink } from './types.ts';

export const noProgress: ProgressSink = {
  start: () => undefined,
  grow: () => undefined,
  tick: () => undefined,
  stop: () => undefined,
};

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
}

/** A progress bar on a terminal: files, bytes, rate and ETA (by bytes). */
export function terminalProgress(stream: NodeJS.WriteStream): ProgressSink {
  // Loaded only on a terminal.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressTypes;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{label} [{bar}] {value}/{total} files | {done} / {size} | {rate}/s | ETA {eta_text}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  let totalBytes = 0;
  let totalFiles = 0;
  let doneBytes = 0;
  let files = 0;
  let startedAt = 0;
  const payload = () => {
    const elapsed = (Date.now() - startedAt) / 1000;
    const rate = elapsed > 0 ? doneBytes / elapsed : 0;
    const eta = rate > 0 ? (totalBytes - doneBytes) / rate : Number.NaN;
    return {
      done: formatBytes(doneBytes),
      size: formatBytes(totalBytes),
      rate: formatBytes(rate),
      eta_text: formatEta(eta),
    };
  };
  let active = false;
  return {
    start(label, total, bytes) {
      totalFiles = total;
      totalBytes = bytes;
      doneBytes = 0;
      files = 0;
      startedAt = Date.now();
      active = true;
      bar.start(totalFiles, 0, { label, ...payload() });
    },
    grow(f, b) {
      if (!active) return;
      totalFiles += f;
      totalBytes += b;
      bar.setTotal(totalFiles);
      bar.update(files, payload());
    },
    tick(f, b) {
      if (!active) return;
      files += f;
      doneBytes += b;
      bar.update(files, payload());
    },
    stop() {
      if (!active) return;
      active = false;
      bar.update(files, payload());
      bar.stop();
    },
  };
}
