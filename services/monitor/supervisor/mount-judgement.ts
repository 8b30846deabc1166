import type { ScanResult, WorkspaceSnapshot } from '../types.ts';

export type MountJudgement =
  { ok: true; workspaces: Map<string, WorkspaceSnapshot> } | { ok: false; reason: string };

/**
 * Whether a scan can be trusted to remove things. A mount that errors is
 * unavailable; so is a root that suddenly looks empty while workspace
 * containers run — the usual face of a FUSE mount that came back empty, or
 * of a bind mount that lost its source. Nothing is removed on such a scan.
 */
export function judgeMount(scan: ScanResult, runningContainers: number): MountJudgement {
  if (scan.mount === 'unavailable') return { ok: false, reason: scan.reason };
  if (scan.workspaces.size === 0 && runningContainers > 0) {
    return {
      ok: false,
      reason:
        `the workspaces root looks empty while ${runningContainers} workspace container(s) run; ` +
        'treating the mount as unavailable and removing nothing (stop the containers from the ' +
        'dashboard or API if the workspaces really were all deleted)',
    };
  }
  return { ok: true, workspaces: scan.workspaces };
}
