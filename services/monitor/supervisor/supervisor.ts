import { EventEmitter } from 'node:events';
import path from 'node:path';
import { systemClock, type Clock } from '../../common/clock.ts';
import { BucketspaceError, errorMessage, isBucketspaceError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { ContainerDiskUsage, ContainerRuntime, HostEngine } from '../containers/types.ts';
import type {
  Detection,
  MonitorApi,
  MonitorEvent,
  MonitorStatus,
  ProxyTarget,
  ScanResult,
  WorkspaceProbe,
  WorkspaceView,
} from '../types.ts';
import {
  deployGate,
  initialIsolation,
  isolationChecked,
  isolationDue,
  type IsolationMemory,
  type IsolationResult,
} from '../isolation/isolation-schedule.ts';
import {
  ActionRunner,
  type ContainerDefaults,
  type EngineView,
  type FirewallSettings,
} from './action-runner.ts';
import type { Action, Note } from './actions.ts';
import { decide } from './decide.ts';
import {
  actionFailed,
  checkFinished,
  containersRemoved,
  crashCollected,
  deployCreated,
  deployFinished,
  deployStarting,
  type OutcomeOptions,
  type Transition,
} from './outcomes.ts';
import { StoppedSet } from './stopped-set.ts';
import { WakeTimer } from './wake-timer.ts';
import { judgeDiskUsage } from './disk-budget.ts';
import { evictionOf, markEvicted, viewOf, type WorkspaceMemory } from './workspace-memory.ts';

export interface Scanner {
  scan(options?: { signal?: AbortSignal }): Promise<ScanResult>;
}

export interface SupervisorHooks {
  onRestart?(workspace: string, reason: string): void;
}

export interface SupervisorOptions extends ContainerDefaults {
  runtime: ContainerRuntime;
  scanner: Scanner;
  detect: (probe: WorkspaceProbe) => Detection;
  logger: Logger;
  dataDir: string;
  pollIntervalMs: number;
  debounceMs: number;
  readyTimeoutMs: number;
  /** Time the old container keeps serving in-flight requests after the switch. */
  drainMs?: number;
  /** Deploys (install + start) at once across workspaces. */
  deployConcurrency?: number;
  hooks?: SupervisorHooks;
  clock?: Clock;
  /** Keep what installs write for the workspace's next container (default true). */
  dependencyCache?: boolean;
  /** The host's own engine (the Docker runtime): the firewall and the disk budget need it. */
  host?: HostEngine | undefined;
  /** The apps firewall; undefined: RUNTIME_ISOLATION=off, apps are not kept apart. */
  firewall: FirewallSettings | undefined;
  /** How often disk use is measured against `diskBudgetBytes` (MONITOR_DISK_CHECK_INTERVAL). */
  diskCheckIntervalMs?: number;
}

/**
 * Keeps one container per runnable workspace, matching its files. Each pass
 * lists the containers (one engine call), scans the mount, asks `decide` what
 * to do, and hands the actions to the ActionRunner; what they led to comes
 * back through the transitions of outcomes.ts. Work on a workspace is serial;
 * different workspaces proceed in parallel. This class is the MonitorApi
 * facade the HTTP layer uses, and the loop: it decides nothing itself.
 */
export class Supervisor implements MonitorApi {
  readonly #o: SupervisorOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #runner: ActionRunner;
  readonly #outcome: OutcomeOptions;
  readonly #events = new EventEmitter();
  readonly #stopped: StoppedSet;
  #workspaces = new Map<string, WorkspaceMemory>();
  /** The last view emitted per workspace, so only changes are sent. */
  readonly #emitted = new Map<string, string>();
  /** Workspaces whose task ended since the pass's container list was taken. */
  #settled = new Set<string>();
  #isolation: IsolationMemory;
  #nextDiskCheckAtMs = 0;
  #status: MonitorStatus;
  #controller = new AbortController();
  readonly #wake: WakeTimer;
  #ticking: Promise<void> | undefined;
  #again = false;
  /** Round robin over a serving workspace's addresses. */
  #turn = 0;
  readonly #tasks = new Set<Promise<void>>();

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#runner = new ActionRunner({
      runtime: options.runtime,
      host: options.host,
      clock: this.#clock,
      logger: options.logger,
      containers: options,
      readyTimeoutMs: options.readyTimeoutMs,
      deployConcurrency: options.deployConcurrency ?? 2,
    });
    this.#outcome = { readyTimeoutMs: options.readyTimeoutMs, drainMs: options.drainMs ?? 1_000 };
    this.#stopped = new StoppedSet(path.join(options.dataDir, 'stopped.json'));
    this.#events.setMaxListeners(0);
    this.#wake = new WakeTimer(this.#clock, () => {
      void this.tick().finally(() => this.#schedule(this.#o.pollIntervalMs));
    });
    this.#isolation = initialIsolation(options.firewall !== undefined);
    this.#status = {
      mount: 'ok',
      mountReason: null,
      docker: 'ok',
      dockerReason: null,
      isolation: this.#isolation.state,
      isolationReason: this.#isolation.reason,
    };
  }

  /** Begin supervising: load state, reconcile once, then poll. */
  async open(): Promise<void> {
    this.#log.info({ managedBy: this.#o.managedBy }, 'starting supervisor');
    if (this.#o.firewall === undefined) {
      this.#log.warn(
        'RUNTIME_ISOLATION=off: apps can reach each other, the host and the cloud metadata address',
      );
    }
    await this.#stopped.load();
    this.#controller = new AbortController();
    await this.tick();
    this.#schedule(this.#o.pollIntervalMs);
    this.#log.info('started supervisor');
  }

  /** Stop polling and wait for running work; containers keep running (adopted next start). */
  async close(): Promise<void> {
    this.#wake.cancel();
    this.#controller.abort();
    await this.#ticking;
    await Promise.allSettled([...this.#tasks]);
  }

  /** One reconcile pass; concurrent calls coalesce into one extra pass. */
  tick(): Promise<void> {
    if (this.#ticking !== undefined) {
      this.#again = true;
      return this.#ticking;
    }
    this.#ticking = (async () => {
      do {
        this.#again = false;
        try {
          await this.#reconcile();
        } catch (err) {
          this.#log.error({ err }, 'reconcile failed');
        }
      } while (this.#again && !this.#controller.signal.aborted);
    })().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  /** The next pass in `delayMs`, unless one is due sooner (WakeTimer). */
  #schedule(delayMs: number): void {
    if (this.#controller.signal.aborted) return;
    this.#wake.at(delayMs);
  }

  // ---- the reconcile pass ------------------------------------------------

  async #reconcile(): Promise<void> {
    this.#settled = new Set();
    let engine: EngineView;
    try {
      engine = await this.#runner.observe();
      this.#setStatus({ docker: 'ok', dockerReason: null });
    } catch (err) {
      if (isBucketspaceError(err, 'DOCKER_UNREACHABLE')) {
        if (this.#status.docker === 'ok')
          this.#log.error({ err }, 'Docker is unreachable; retrying');
        this.#setStatus({ docker: 'unreachable', dockerReason: errorMessage(err) });
        return;
      }
      throw err;
    }
    await this.#keepIsolation();
    await this.#checkDisk();
    const scan = await this.#o.scanner.scan({ signal: this.#controller.signal });
    const now = this.#clock.now();
    const decision = decide(
      this.#workspaces,
      {
        scan,
        ...engine,
        stopped: this.#stopped.names(),
        stale: this.#settled,
        deploys: deployGate(this.#isolation),
        now,
      },
      {
        debounceMs: this.#o.debounceMs,
        detect: this.#o.detect,
        dependencyCache: this.#o.dependencyCache ?? true,
      },
    );
    if (decision.mount.ok) {
      if (this.#status.mount === 'unavailable') this.#log.info('mount available again');
      this.#setStatus({ mount: 'ok', mountReason: null });
    } else {
      if (this.#status.mount === 'ok') {
        this.#log.error({ reason: decision.mount.reason }, 'mount unavailable: removing nothing');
      }
      this.#setStatus({ mount: 'unavailable', mountReason: decision.mount.reason });
    }
    this.#workspaces = decision.workspaces;
    this.#note(decision.notes);
    for (const name of decision.forgotten) this.#forgotten(name);
    for (const name of this.#workspaces.keys()) this.#emit(name);
    for (const action of decision.actions) this.#start(action);
    if (decision.wakeAtMs !== undefined) {
      const delay = Math.min(decision.wakeAtMs - this.#clock.now(), this.#o.pollIntervalMs);
      this.#schedule(Math.max(50, delay));
    }
  }

  /** Apply the apps firewall when it is due (first pass, then on the clock); say when its state changes. */
  async #keepIsolation(): Promise<void> {
    const firewall = this.#o.firewall;
    if (firewall === undefined || !isolationDue(this.#isolation, this.#clock.now())) return;
    let result: IsolationResult;
    try {
      result = await this.#runner.applyFirewall(firewall);
    } catch (err) {
      if (isBucketspaceError(err, 'DOCKER_UNREACHABLE')) throw err;
      result = { ok: false, reason: errorMessage(err) };
    }
    const before = this.#isolation;
    this.#isolation = isolationChecked(result, this.#clock.now());
    const { state, reason } = this.#isolation;
    if (state === 'on' && before.state !== 'on') {
      this.#log.info({ network: this.#o.network, rules: reason }, 'apps firewall in place');
    } else if (state === 'failed' && (before.state !== 'failed' || before.reason !== reason)) {
      this.#log.error(
        { network: this.#o.network, reason },
        'apps firewall failed: no new container starts until it works',
      );
    }
    this.#setStatus({ isolation: state, isolationReason: reason });
  }

  /**
   * When due, measure the containers' disk use; stop the ones over the budget
   * (decided by judgeDiskUsage), whatever their workspace is doing: the
   * reason waits in its memory for the crash or failed start that follows.
   */
  async #checkDisk(): Promise<void> {
    const budget = this.#o.diskBudgetBytes;
    const now = this.#clock.now();
    if (budget === undefined || now < this.#nextDiskCheckAtMs) return;
    this.#nextDiskCheckAtMs = now + (this.#o.diskCheckIntervalMs ?? 30_000);
    let usage: ContainerDiskUsage[];
    try {
      usage = await this.#runner.diskUsage();
    } catch (err) {
      if (isBucketspaceError(err, 'DOCKER_UNREACHABLE')) throw err;
      this.#log.warn({ err }, 'cannot measure disk use; trying again at the next check');
      return;
    }
    const evictions = judgeDiskUsage(usage, budget);
    this.#log.debug({ containers: usage.length, over: evictions.length }, 'disk use checked');
    for (const eviction of evictions) {
      const ws = this.#workspaces.get(eviction.workspace);
      if (ws === undefined || evictionOf(ws, eviction.containerId) !== undefined) continue;
      this.#log.warn(
        { workspace: eviction.workspace, container: eviction.containerId, why: eviction.reason },
        'container over its disk budget; stopping it',
      );
      this.#update(eviction.workspace, (w) => markEvicted(w, eviction));
      const task = this.#runner
        .stop(eviction.containerId)
        .catch((err: unknown) => {
          this.#log.error({ err, workspace: eviction.workspace }, 'cannot stop the container');
        })
        .finally(() => {
          this.#tasks.delete(task);
          if (!this.#controller.signal.aborted) this.#schedule(0);
        });
      this.#tasks.add(task);
    }
  }

  /** Run an action and its follow-ups as the workspace's one task. */
  #start(first: Action): void {
    const name = first.workspace;
    const task = (async () => {
      const queue = [first];
      for (let action = queue.shift(); action !== undefined; action = queue.shift()) {
        queue.push(...(await this.#execute(action)));
      }
    })()
      .catch((err: unknown) => {
        this.#log.error({ err, workspace: name }, 'workspace task failed');
        this.#update(name, (ws) => actionFailed(ws, first, errorMessage(err), this.#clock.now()));
      })
      .finally(() => {
        this.#update(name, (ws) => ({ ...ws, busy: false }));
        this.#settled.add(name);
        this.#tasks.delete(task);
        if (!this.#controller.signal.aborted) this.#schedule(0);
      });
    this.#tasks.add(task);
  }

  async #execute(action: Action): Promise<Action[]> {
    const signal = this.#controller.signal;
    const name = action.workspace;
    switch (action.type) {
      case 'deploy': {
        const outcome = await this.#runner.deploy(action, signal, {
          onStarting: () => {
            this.#update(name, (ws) => deployStarting(ws, action));
            this.#o.hooks?.onRestart?.(name, action.why);
          },
          onCreated: (id, key) => this.#update(name, (ws) => deployCreated(ws, id, key)),
        });
        return this.#transition(name, (ws) =>
          deployFinished(ws, action, outcome, this.#clock.now(), this.#outcome),
        );
      }
      case 'check': {
        const report = await this.#runner.readReport(action.container.id);
        return this.#transition(name, (ws) => checkFinished(ws, action, report));
      }
      case 'collect-crash': {
        const info = await this.#runner.collectCrash(action.container);
        const next = this.#transition(name, (ws) =>
          crashCollected(ws, action.container, info, this.#clock.now()),
        );
        this.#o.hooks?.onRestart?.(name, 'crashed');
        return next;
      }
      case 'remove': {
        await this.#runner.remove(action, signal);
        this.#update(name, (ws) => containersRemoved(ws, action.containers));
        if (action.forget) {
          this.#workspaces.delete(name);
          this.#forgotten(name);
        }
        return [];
      }
    }
  }

  #transition(name: string, fn: (ws: WorkspaceMemory) => Transition): Action[] {
    const ws = this.#workspaces.get(name);
    if (ws === undefined) return [];
    const result = fn(ws);
    this.#workspaces.set(name, result.ws);
    this.#note(result.notes);
    this.#emit(name);
    return result.actions;
  }

  #update(name: string, fn: (ws: WorkspaceMemory) => WorkspaceMemory): void {
    const ws = this.#workspaces.get(name);
    if (ws === undefined) return;
    this.#workspaces.set(name, fn(ws));
    this.#emit(name);
  }

  #note(notes: readonly Note[]): void {
    for (const note of notes) this.#log[note.level](note.fields, note.msg);
  }

  // ---- MonitorApi ------------------------------------------------------------

  status(): MonitorStatus {
    return { ...this.#status };
  }

  list(): WorkspaceView[] {
    return [...this.#workspaces.values()]
      .filter((ws) => ws.snapshot !== undefined)
      .map((ws) => viewOf(ws))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): WorkspaceView | undefined {
    const ws = this.#workspaces.get(name);
    return ws?.snapshot === undefined ? undefined : viewOf(ws);
  }

  target(name: string): ProxyTarget | undefined {
    const serving = this.#workspaces.get(name)?.serving;
    if (serving?.ip === null || serving?.ip === undefined || serving.status !== 'running')
      return undefined;
    const addresses = serving.addresses ?? [];
    if (addresses.length < 2) return { host: serving.ip, port: serving.port };
    // Several copies (Swarm replicas): take turns.
    this.#turn = (this.#turn + 1) % addresses.length;
    return { host: addresses[this.#turn] ?? serving.ip, port: serving.port };
  }

  async restart(name: string): Promise<void> {
    this.#requireRunnable(this.#known(name), 'restart');
    await this.#stopped.remove(name);
    this.#update(name, (ws) => ({
      ...ws,
      redeploy: { why: 'restart requested', skipWaits: true },
      crash: undefined,
    }));
    void this.tick();
  }

  async stop(name: string): Promise<void> {
    this.#known(name);
    await this.#stopped.add(name);
    void this.tick();
  }

  async start(name: string): Promise<void> {
    this.#requireRunnable(this.#known(name), 'start');
    await this.#stopped.remove(name);
    this.#update(name, (ws) => ({ ...ws, crash: undefined }));
    void this.tick();
  }

  async logs(name: string, tail: number): Promise<string[]> {
    const ws = this.#known(name);
    const id = ws.serving?.id ?? ws.pendingId;
    if (id === undefined) return ws.shown.lastLogLines.slice(-tail);
    return this.#runner.logs(id, tail);
  }

  async *followLogs(name: string, signal: AbortSignal): AsyncIterable<string> {
    const ws = this.#known(name);
    const id = ws.serving?.id ?? ws.pendingId;
    if (id === undefined) return;
    yield* this.#runner.followLogs(id, signal);
  }

  notifyChanged(names: string[]): void {
    this.#log.debug({ workspaces: names }, 'change notification');
    void this.tick();
  }

  subscribe(listener: (event: MonitorEvent) => void): () => void {
    this.#events.on('event', listener);
    return () => this.#events.off('event', listener);
  }

  // ---- helpers -------------------------------------------------------------

  #known(name: string): WorkspaceMemory {
    const ws = this.#workspaces.get(name);
    if (ws?.snapshot === undefined) {
      throw new BucketspaceError('NOT_FOUND', `no workspace named ${JSON.stringify(name)}`);
    }
    return ws;
  }

  #requireRunnable(ws: WorkspaceMemory, action: string): void {
    if (ws.detection?.kind !== 'runnable') {
      throw new BucketspaceError(
        'CONFLICT',
        `cannot ${action} ${ws.name}: ${ws.detection?.reason ?? 'not detected yet'}`,
      );
    }
  }

  #emit(name: string): void {
    const ws = this.#workspaces.get(name);
    if (ws?.snapshot === undefined) return;
    const view = viewOf(ws);
    const key = JSON.stringify(view);
    if (key === this.#emitted.get(name)) return;
    this.#emitted.set(name, key);
    this.#events.emit('event', { type: 'workspace', workspace: view } satisfies MonitorEvent);
  }

  #forgotten(name: string): void {
    if (!this.#emitted.delete(name)) return;
    this.#events.emit('event', { type: 'workspace-removed', name } satisfies MonitorEvent);
  }

  #setStatus(patch: Partial<MonitorStatus>): void {
    const next = { ...this.#status, ...patch };
    if (JSON.stringify(next) === JSON.stringify(this.#status)) return;
    this.#status = next;
    this.#events.emit('event', { type: 'status', status: { ...next } } satisfies MonitorEvent);
  }
}
