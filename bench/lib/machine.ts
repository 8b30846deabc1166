import { cpus, loadavg, release, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

function s3rverVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../node_modules/s3rver/package.json', import.meta.url), 'utf8'),
    ) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Lines describing the machine and the tools, printed above every result. */
export function machineLines(options: { rcloneVersion: string | undefined; s3: string }): string[] {
  const cpu = cpus();
  return [
    `machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`,
    `node ${process.version}; rclone ${options.rcloneVersion ?? 'not installed'}; S3 server: ${options.s3}`,
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (other work on the machine skews the times)`,
  ];
}

export function s3Description(local: boolean, endpoint: string): string {
  return local
    ? `s3rver ${s3rverVersion()} (child process, ${endpoint})`
    : `external endpoint ${endpoint}`;
}
