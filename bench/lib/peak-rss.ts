import { readFile } from 'node:fs/promises';

/** VmHWM (the peak resident set size so far) of a live process, in KiB; undefined once it is gone. */
export async function readPeakRssKiB(pid: number): Promise<number | undefined> {
  return (await readRss(pid))?.peakKiB;
}

/** A live process's resident set size now (VmRSS) and its peak so far (VmHWM), in KiB. */
export async function readRss(
  pid: number,
): Promise<{ nowKiB: number; peakKiB: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const now = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    const peak = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return now && peak ? { nowKiB: Number(now[1]), peakKiB: Number(peak[1]) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Polls a process's VmHWM. VmHWM only grows, so the last value read is the
 * peak up to that moment; growth in the final interval before exit is missed
 * (use /usr/bin/time where exactness matters).
 */
export class PeakRssSampler {
  private readonly pid: number;
  private readonly timer: NodeJS.Timeout;
  private peakKiB: number | undefined;
  private reading = false;

  constructor(pid: number, intervalMs = 20) {
    this.pid = pid;
    this.timer = setInterval(() => void this.sample(), intervalMs);
    void this.sample();
  }

  /** Read once more (if the process is still there) and stop polling. */
  async stop(): Promise<number | undefined> {
    clearInterval(this.timer);
    await this.sample();
    return this.peakKiB;
  }

  get currentKiB(): number | undefined {
    return this.peakKiB;
  }

  private async sample(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const kib = await readPeakRssKiB(this.pid);
      if (kib !== undefined) this.peakKiB = Math.max(this.peakKiB ?? 0, kib);
    } finally {
      this.reading = false;
    }
  }
}
