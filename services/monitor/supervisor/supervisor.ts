import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { BucketspaceError, errorMessage, isBucketspaceError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { buildContainerSpec, type RuntimeLimits } from '../containers/container-spec.ts';
import type { ContainerRuntime, ManagedContainer } from '../containers/types.ts';
import type {
  Detection,
  MonitorApi,
  MonitorEvent,
  MonitorStatus,
  ProxyTarget,
  RuntimeType,
  ScanResult,
  WorkspaceProbe,
  WorkspaceSnapshot,
  WorkspaceView,
} from '../types.ts';
import { crashBackoffMs } from './crash-backoff.ts';
import { judgeMount } from './mount-judgement.ts';
import { StoppedSet } from './stopped-set.ts';
import { waitReady } from './wait-ready.ts';
import { WorkspaceRecord } from './workspace-record.ts';

export interface Scanner {
  scan(options?: { signal?: AbortSignal }): Promise<ScanResult>;
}

export interface SupervisorHooks {
  onRestart?(workspace: string, reason: string): void;
}

export interface SupervisorOptions {
  runtime: ContainerRuntime;
  scanner: Scanner;
  detect: (probe: WorkspaceProbe) => Detection;
  logger: Logger;
  /** Value of the managed-by label: one monitor's containers, never another's. */
  managedBy: string;
  network: string;
  images: Record<RuntimeType, string>;
  limits: RuntimeLimits;
  /** The workspaces root as the Docker engine sees it (bind sources). */
  hostRoot: string;
  caBundle?: string | undefined;
  dataDir: string;
  pollIntervalMs: number;
  debounceMs: number;
  readyTimeoutMs: number;
  stopTimeoutSeconds: number;
  /** Time the old container keeps serving in-flight requests after the switch. */
  drainMs?: number;
  /** Deploys (install + start) at once across workspaces. */
  deployConcurrency?: number;
  hooks?: SupervisorHooks;
}

/**
 * Keeps one container per runnable workspace, matching its files. Each tick
 * lists the containers (one engine call), scans the mount, and for every
 * workspace decides: adopt, deploy a replacement, remove, or wait. Work on a
 * workspace is serial; different workspaces proceed in parallel.
 */
export class Supervisor implements MonitorApi {
  readonly #o: SupervisorOptions;
  readonly #log: Logger;
  readonly #records = new Map<string, WorkspaceRecord>();
  readonly #events = new EventEmitter();
  readonly #deploys: ReturnType<typeof pLimit>;
  readonly #stopped: StoppedSet;
  #status: MonitorStatus = { mount: 'ok', mountReason: null, docker: 'ok', dockerReason: null };
  #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #again = false;
  #networkReady = false;
  #tasks = new Set<Promise<void>>();

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#deploys = pLimit(options.deployConcurrency ?? 2);
    this.#stopped = new StoppedSet(path.join(options.dataDir, 'stopped.json'));
    this.#events.setMaxListeners(0);
  }

  /** Begin supervising: load state, reconcile once, then poll. */
  async open(): Promise<void> {
    this.#log.info({ managedBy: this.#o.managedBy }, 'starting supervisor');
    await this.#stopped.load();
    this.#controller = new AbortController();
    await this.tick();
    this.#schedule(this.#o.pollIntervalMs);
    this.#log.info('started supervisor');
  }

  /** Stop polling and wait for running work; containers keep running (adopted next start). */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
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

  #schedule(delayMs: number): void {
    if (this.#controller.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      void this.tick().finally(() => this.#schedule(this.#o.pollIntervalMs));
    }, delayMs);
  }

  // ---- the reconcile pass ------------------------------------------------

  async #reconcile(): Promise<void> {
    const signal = this.#controller.signal;
    let containers: ManagedContainer[];
    try {
      await this.#ensureNetwork();
      containers = await this.#o.runtime.list(this.#o.managedBy);
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
    const scan = await this.#o.scanner.scan({ signal });
    const running = containers.filter((c) => c.status === 'running').length;
    const judgement = judgeMount(scan, running);
    const byWorkspace = groupBy(containers);
    if (!judgement.ok) {
      if (this.#status.mount === 'ok') {
        this.#log.error({ reason: judgement.reason }, 'mount unavailable: removing nothing');
      }
      this.#setStatus({ mount: 'unavailable', mountReason: judgement.reason });
      // Keep serving what runs; remember containers so routes keep working.
      for (const [name, list] of byWorkspace) this.#record(name).observe(list);
      return;
    }
    if (this.#status.mount === 'unavailable') this.#log.info('mount available again');
    this.#setStatus({ mount: 'ok', mountReason: null });

    const now = Date.now();
    const names = new Set([
      ...judgement.workspaces.keys(),
      ...this.#records.keys(),
      ...byWorkspace.keys(),
    ]);
    let soonest = Infinity;
    for (const name of names) {
      const snapshot = judgement.workspaces.get(name);
      const record = this.#record(name);
      record.observe(byWorkspace.get(name) ?? []);
      if (snapshot !== undefined) this.#updateSnapshot(record, snapshot, now);
      if (record.busy) continue;
      // An incomplete scan of this workspace is not a reason to restart or remove it.
      if (snapshot !== undefined && snapshot.errors.length > 0) {
        this.#log.warn(
          { workspace: name, errors: snapshot.errors },
          'incomplete scan; leaving it as it is',
        );
        continue;
      }
      const wake = this.#decide(record, snapshot, now);
      if (wake !== undefined) soonest = Math.min(soonest, wake);
    }
    if (soonest !== Infinity) {
      this.#schedule(Math.max(50, Math.min(soonest - Date.now(), this.#o.pollIntervalMs)));
    }
  }

  async #ensureNetwork(): Promise<void> {
    if (this.#networkReady) return;
    await this.#o.runtime.ensureNetwork(this.#o.network, {
      'bucketspace.managed-by': this.#o.managedBy,
    });
    this.#networkReady = true;
  }

  #updateSnapshot(record: WorkspaceRecord, snapshot: WorkspaceSnapshot, now: number): void {
    if (record.snapshot?.fingerprint !== snapshot.fingerprint) {
      record.fingerprintSinceMs = now;
      record.detection = this.#o.detect(snapshot.probe);
      if (record.snapshot !== undefined) {
        this.#log.info(
          { workspace: record.name, fingerprint: snapshot.fingerprint },
          'workspace changed',
        );
      }
    }
    record.snapshot = snapshot;
    record.lastChangeMs = snapshot.lastChangeMs;
  }

  /** Decide what a workspace needs now; returns when it wants to be looked at again. */
  #decide(
    record: WorkspaceRecord,
    snapshot: WorkspaceSnapshot | undefined,
    now: number,
  ): number | undefined {
    const name = record.name;
    if (snapshot === undefined) {
      if (record.containers.length > 0) {
        this.#run(record, async () => {
          await this.#removeAll(record, 'workspace removed');
          this.#forget(name);
        });
      } else {
        this.#forget(name);
      }
      return undefined;
    }
    const detection = record.detection;
    if (detection === undefined || detection.kind !== 'runnable') {
      const reason = detection?.reason ?? 'not detected yet';
      record.setState(detection?.kind === 'unrecognized' ? 'unrecognized' : 'error', reason, null);
      record.type = null;
      if (record.containers.length > 0) this.#run(record, () => this.#removeAll(record, reason));
      this.#emitRecord(record);
      return undefined;
    }
    record.type = detection.plan.type;
    record.reason = detection.plan.reason;
    if (this.#stopped.has(name)) {
      if (record.containers.length > 0) {
        this.#run(record, () => this.#removeAll(record, 'stopped by user'));
      } else {
        record.setState(
          'stopped',
          'stopped from the dashboard or API; press start to run it',
          null,
        );
        this.#emitRecord(record);
      }
      return undefined;
    }
    // Adopt a running container when nothing serves yet (monitor restart).
    if (record.serving === undefined) {
      const candidate = record.bestRunning(snapshot.fingerprint);
      if (candidate !== undefined) {
        record.adopt(candidate);
        this.#log.info({ workspace: name, container: candidate.name }, 'adopted running container');
        if (candidate.fingerprint === snapshot.fingerprint) {
          record.setState('running', null, candidate.startedAtMs ?? now);
        }
      }
    }
    // The serving container died: show it as crashing, back off, then redeploy.
    if (record.serving !== undefined && record.serving.status !== 'running') {
      const dead = record.serving;
      this.#run(record, () => this.#onCrash(record, dead));
      return undefined;
    }
    // Leftovers (exited replacements, duplicates) go.
    const extras = record.containers.filter((c) => c.id !== record.serving?.id);
    if (extras.length > 0) {
      this.#run(record, () => this.#removeContainers(record, extras, 'not the serving container'));
      return undefined;
    }
    const wanted = snapshot.fingerprint;
    const upToDate = record.serving !== undefined && record.serving.fingerprint === wanted;
    if (upToDate && !record.forceRestart) {
      if (record.state !== 'running') record.setState('running', null, record.startedAtMs ?? now);
      this.#emitRecord(record);
      return undefined;
    }
    const stableAt = record.fingerprintSinceMs + this.#o.debounceMs;
    if (!record.forceRestart && now < stableAt) return stableAt;
    if (record.crash !== undefined && record.crash.fingerprint === wanted && !record.forceRestart) {
      if (now < record.crash.retryAtMs) return record.crash.retryAtMs;
    }
    const why = record.forceRestart
      ? 'restart requested'
      : record.serving === undefined
        ? 'starting'
        : 'files changed';
    this.#run(record, () => this.#deploy(record, snapshot, detection.plan, why));
    return undefined;
  }

  #run(record: WorkspaceRecord, work: () => Promise<void>): void {
    record.busy = true;
    const task = work()
      .catch((err: unknown) => {
        this.#log.error({ err, workspace: record.name }, 'workspace task failed');
        record.setState('error', errorMessage(err), null);
      })
      .finally(() => {
        record.busy = false;
        this.#tasks.delete(task);
        this.#emitRecord(record);
        if (!this.#controller.signal.aborted) this.#schedule(0);
      });
    this.#tasks.add(task);
  }

  // ---- actions -------------------------------------------------------------

  async #deploy(
    record: WorkspaceRecord,
    snapshot: WorkspaceSnapshot,
    plan: Extract<Detection, { kind: 'runnable' }>['plan'],
    why: string,
  ): Promise<void> {
    await this.#deploys(async () => {
      const signal = this.#controller.signal;
      if (signal.aborted) return;
      record.forceRestart = false;
      const old = record.serving;
      const image = this.#o.images[plan.type];
      if (!(await this.#o.runtime.imageExists(image))) {
        record.setState(
          'error',
          `image ${image} for ${plan.type} workspaces is missing: build it (scripts/build-local-images.sh) ` +
            `or set RUNTIME_IMAGE_${plan.type.toUpperCase()}`,
          null,
        );
        record.crash = {
          fingerprint: snapshot.fingerprint,
          failures: 1,
          retryAtMs: Date.now() + 30_000,
        };
        return;
      }
      record.setState(
        old === undefined ? 'starting' : 'restarting',
        old === undefined
          ? `starting ${plan.type} container; waiting for port ${plan.port}`
          : `${why}: starting a replacement; the current container keeps serving`,
        old === undefined ? null : record.startedAtMs,
      );
      this.#emitRecord(record);
      this.#o.hooks?.onRestart?.(record.name, why);
      this.#log.info({ workspace: record.name, why, type: plan.type }, 'deploying');
      const spec = buildContainerSpec({
        workspace: record.name,
        hostDir: path.join(this.#o.hostRoot, record.name),
        plan,
        fingerprint: snapshot.fingerprint,
        images: this.#o.images,
        network: this.#o.network,
        managedBy: this.#o.managedBy,
        limits: this.#o.limits,
        caBundle: this.#o.caBundle,
        stopTimeoutSeconds: this.#o.stopTimeoutSeconds,
        suffix: randomBytes(3).toString('hex'),
      });
      const fresh = await this.#o.runtime.run(spec);
      record.pendingId = fresh.id;
      let latest = fresh;
      const outcome = await waitReady({
        port: plan.port,
        timeoutMs: this.#o.readyTimeoutMs,
        signal,
        host: async () => {
          latest = (await this.#o.runtime.inspect(fresh.id)) ?? {
            ...latest,
            status: 'dead',
            ip: null,
          };
          return { ip: latest.ip, running: latest.status === 'running' };
        },
      });
      record.pendingId = undefined;
      if (outcome.ready) {
        record.adopt(latest);
        record.crash = undefined;
        record.exitCode = null;
        record.lastLogLines = [];
        record.setState('running', null, Date.now());
        if (old !== undefined) record.restarts += 1;
        this.#emitRecord(record);
        this.#log.info({ workspace: record.name, container: fresh.name }, 'serving new container');
        if (old !== undefined) {
          await sleepUnlessAborted(this.#o.drainMs ?? 1_000, signal);
          await this.#retire(old);
        }
        return;
      }
      if (outcome.why === 'aborted') {
        await this.#retire(fresh);
        return;
      }
      const lines = await this.#o.runtime.logs(fresh.id, 30).catch(() => []);
      const exited = await this.#o.runtime.inspect(fresh.id);
      await this.#retire(fresh);
      const failures =
        (record.crash?.fingerprint === snapshot.fingerprint ? record.crash.failures : 0) + 1;
      const delay = crashBackoffMs(failures);
      record.crash = { fingerprint: snapshot.fingerprint, failures, retryAtMs: Date.now() + delay };
      record.exitCode = exited?.exitCode ?? null;
      record.lastLogLines = lines.slice(-20);
      const what =
        outcome.why === 'exited'
          ? `exited with code ${String(exited?.exitCode ?? 'unknown')} before answering on port ${plan.port}`
          : `did not answer on port ${plan.port} within ${Math.round(this.#o.readyTimeoutMs / 1000)} s`;
      record.setState(
        'crashing',
        `${what}; retrying in ${Math.round(delay / 1000)} s` +
          (old !== undefined ? ' (the previous version keeps serving)' : ''),
        old === undefined ? null : record.startedAtMs,
      );
      this.#log.warn(
        { workspace: record.name, exitCode: record.exitCode, failures },
        `container ${what}`,
      );
    });
  }

  async #onCrash(record: WorkspaceRecord, dead: ManagedContainer): Promise<void> {
    const inspected = await this.#o.runtime.inspect(dead.id);
    const lines = await this.#o.runtime.logs(dead.id, 30).catch(() => []);
    await this.#retire(dead);
    record.serving = undefined;
    const fingerprint = dead.fingerprint;
    const failures = (record.crash?.fingerprint === fingerprint ? record.crash.failures : 0) + 1;
    const delay = crashBackoffMs(failures);
    record.crash = { fingerprint, failures, retryAtMs: Date.now() + delay };
    record.exitCode = inspected?.exitCode ?? null;
    record.lastLogLines = lines.slice(-20);
    record.restarts += 1;
    record.setState(
      'crashing',
      `exited with code ${String(record.exitCode ?? 'unknown')}; restarting in ${Math.round(delay / 1000)} s`,
      null,
    );
    this.#o.hooks?.onRestart?.(record.name, 'crashed');
    this.#log.warn(
      { workspace: record.name, exitCode: record.exitCode, failures },
      'container crashed',
    );
  }

  async #removeAll(record: WorkspaceRecord, why: string): Promise<void> {
    await this.#removeContainers(record, [...record.containers], why);
    record.serving = undefined;
    record.startedAtMs = null;
  }

  async #removeContainers(
    record: WorkspaceRecord,
    containers: ManagedContainer[],
    why: string,
  ): Promise<void> {
    for (const c of containers) {
      this.#log.info({ workspace: record.name, container: c.name, why }, 'removing container');
      if (record.serving?.id === c.id) record.serving = undefined;
      await this.#retire(c);
    }
  }

  async #retire(container: ManagedContainer): Promise<void> {
    if (container.status === 'running') {
      await this.#o.runtime.stop(container.id, this.#o.stopTimeoutSeconds);
    }
    await this.#o.runtime.remove(container.id);
  }

  #forget(name: string): void {
    const record = this.#records.get(name);
    if (record !== undefined) record.snapshot = undefined;
    if (this.#records.delete(name)) {
      this.#events.emit('event', { type: 'workspace-removed', name } satisfies MonitorEvent);
    }
  }

  // ---- MonitorApi ------------------------------------------------------------

  status(): MonitorStatus {
    return { ...this.#status };
  }

  list(): WorkspaceView[] {
    return [...this.#records.values()]
      .filter((r) => r.snapshot !== undefined)
      .map((r) => r.view())
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): WorkspaceView | undefined {
    const record = this.#records.get(name);
    return record?.snapshot === undefined ? undefined : record.view();
  }

  target(name: string): ProxyTarget | undefined {
    const serving = this.#records.get(name)?.serving;
    if (serving?.ip === null || serving?.ip === undefined || serving.status !== 'running')
      return undefined;
    return { host: serving.ip, port: serving.port };
  }

  async restart(name: string): Promise<void> {
    const record = this.#known(name);
    this.#requireRunnable(record, 'restart');
    await this.#stopped.remove(name);
    record.forceRestart = true;
    record.crash = undefined;
    void this.tick();
  }

  async stop(name: string): Promise<void> {
    this.#known(name);
    await this.#stopped.add(name);
    void this.tick();
  }

  async start(name: string): Promise<void> {
    const record = this.#known(name);
    this.#requireRunnable(record, 'start');
    await this.#stopped.remove(name);
    record.crash = undefined;
    void this.tick();
  }

  async logs(name: string, tail: number): Promise<string[]> {
    const record = this.#known(name);
    const id = record.serving?.id ?? record.pendingId;
    if (id === undefined) return record.lastLogLines.slice(-tail);
    return this.#o.runtime.logs(id, tail);
  }

  async *followLogs(name: string, signal: AbortSignal): AsyncIterable<string> {
    const record = this.#known(name);
    const id = record.serving?.id ?? record.pendingId;
    if (id === undefined) return;
    yield* this.#o.runtime.followLogs(id, signal);
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

  #known(name: string): WorkspaceRecord {
    const record = this.#records.get(name);
    if (record?.snapshot === undefined) {
      throw new BucketspaceError('NOT_FOUND', `no workspace named ${JSON.stringify(name)}`);
    }
    return record;
  }

  #requireRunnable(record: WorkspaceRecord, action: string): void {
    if (record.detection?.kind !== 'runnable') {
      throw new BucketspaceError(
        'CONFLICT',
        `cannot ${action} ${record.name}: ${record.detection?.reason ?? 'not detected yet'}`,
      );
    }
  }

  #record(name: string): WorkspaceRecord {
    let record = this.#records.get(name);
    if (record === undefined) {
      record = new WorkspaceRecord(name);
      this.#records.set(name, record);
    }
    return record;
  }

  #emitRecord(record: WorkspaceRecord): void {
    if (record.snapshot === undefined) return;
    const view = record.view();
    const key = JSON.stringify(view);
    if (key === record.lastEmitted) return;
    record.lastEmitted = key;
    this.#events.emit('event', { type: 'workspace', workspace: view } satisfies MonitorEvent);
  }

  #setStatus(patch: Partial<MonitorStatus>): void {
    const next = { ...this.#status, ...patch };
    if (JSON.stringify(next) === JSON.stringify(this.#status)) return;
    this.#status = next;
    this.#events.emit('event', { type: 'status', status: { ...next } } satisfies MonitorEvent);
  }
}

function groupBy(containers: ManagedContainer[]): Map<string, ManagedContainer[]> {
  const out = new Map<string, ManagedContainer[]>();
  for (const c of containers) {
    const list = out.get(c.workspace) ?? [];
    list.push(c);
    out.set(c.workspace, list);
  }
  return out;
}

async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}
