/** How often the firewall is applied again while it works (rules flushed by hand or by a reload come back). */
export const ISOLATION_REFRESH_MS = 10 * 60_000;
/** How soon a failed attempt is tried again. */
export const ISOLATION_RETRY_MS = 30_000;

/**
 * Whether the apps are kept apart (RUNTIME_ISOLATION, decision 0055):
 * `off` by the settings; `pending` until the firewall was first applied;
 * `on` once applied; `failed` when the last attempt did not work.
 */
export interface IsolationMemory {
  readonly state: 'off' | 'pending' | 'on' | 'failed';
  /** Why it failed, or what is in place. */
  readonly reason: string | null;
  readonly nextCheckAtMs: number;
}

export type IsolationResult = { ok: true; summary: string } | { ok: false; reason: string };

/** May new containers start? Only while the firewall is in place, or isolation is off. */
export type DeployGate = { ok: true } | { ok: false; reason: string };

export function initialIsolation(enabled: boolean): IsolationMemory {
  return enabled
    ? { state: 'pending', reason: 'the apps firewall has not been applied yet', nextCheckAtMs: 0 }
    : { state: 'off', reason: null, nextCheckAtMs: Infinity };
}

export function isolationDue(memory: IsolationMemory, now: number): boolean {
  return memory.state !== 'off' && now >= memory.nextCheckAtMs;
}

/** The outcome of applying the firewall: when to apply it again. */
export function isolationChecked(result: IsolationResult, now: number): IsolationMemory {
  return result.ok
    ? { state: 'on', reason: result.summary, nextCheckAtMs: now + ISOLATION_REFRESH_MS }
    : { state: 'failed', reason: result.reason, nextCheckAtMs: now + ISOLATION_RETRY_MS };
}

export function deployGate(memory: IsolationMemory): DeployGate {
  if (memory.state === 'on' || memory.state === 'off') return { ok: true };
  return {
    ok: false,
    reason:
      `not started: the apps would not be kept apart (${memory.reason ?? memory.state}); ` +
      'fix that, or set RUNTIME_ISOLATION=off to run them without the firewall',
  };
}
