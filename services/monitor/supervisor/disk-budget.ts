import { formatBytes } from '../../common/format-bytes.ts';
import type { ContainerDiskUsage } from '../containers/types.ts';

/** A container over its disk budget: stop it, and say why where the user looks. */
export interface DiskEviction {
  workspace: string;
  containerId: string;
  /** What it used of what budget, shown as the workspace's message. */
  reason: string;
  /** Its dependency-cache volumes: dropped once it is gone, as they may hold what filled it. */
  volumes: string[];
}

/**
 * Which running containers use more disk than the budget (RUNTIME_DISK,
 * decision 0056): their writable layer (the copy of the source and anything
 * else written outside /tmp) plus their dependency cache. Sizes the engine
 * did not report count as nothing. Pure.
 */
export function judgeDiskUsage(
  usage: readonly ContainerDiskUsage[],
  budgetBytes: number,
): DiskEviction[] {
  const out: DiskEviction[] = [];
  for (const u of usage) {
    const written = u.writableBytes ?? 0;
    const cached = u.volumes.reduce((sum, v) => sum + (v.bytes ?? 0), 0);
    const total = written + cached;
    if (total <= budgetBytes) continue;
    const parts = [`${formatBytes(written)} written in its container`];
    if (cached > 0) parts.push(`${formatBytes(cached)} in its dependency cache`);
    out.push({
      workspace: u.workspace,
      containerId: u.id,
      reason:
        `stopped: it used ${formatBytes(total)} of its ${formatBytes(budgetBytes)} disk budget ` +
        `(RUNTIME_DISK): ${parts.join(', ')}`,
      volumes: u.volumes.map((v) => v.name),
    });
  }
  return out;
}
