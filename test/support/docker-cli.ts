import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** Run the docker CLI; resolves with stdout, rejects with stderr in the message. */
export function docker(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || err.message}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** Both streams of `docker logs`, as one string. */
export function containerLogs(name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', ['logs', name], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`docker logs ${name}: ${stderr.trim() || err.message}`));
      else resolve(stdout + stderr);
    });
  });
}

export async function inspect(name: string, format: string): Promise<string> {
  return (await docker(['inspect', '--format', format, name])).trim();
}

/** The container's address on a network. */
export function containerIp(name: string, network: string): Promise<string> {
  return inspect(name, `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`);
}

/** Wait until the container exits; resolves with its exit code. */
export async function waitExit(name: string): Promise<number> {
  return Number((await docker(['wait', name])).trim());
}

/**
 * Poll until `probe` succeeds; fails early with the container's logs when the
 * container stops running, or after `attempts` tries 250 ms apart.
 */
export async function waitFor<T>(
  name: string,
  probe: () => Promise<T>,
  attempts = 480,
): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await probe();
    } catch (err) {
      last = err;
    }
    if ((await inspect(name, '{{.State.Running}}')) !== 'true') {
      throw new Error(
        `container ${name} stopped (exit ${await inspect(name, '{{.State.ExitCode}}')}):\n${await containerLogs(name)}`,
      );
    }
    await sleep(250);
  }
  throw new Error(
    `container ${name} never became ready: ${String(last)}\n${await containerLogs(name)}`,
  );
}

/** GET a URL; rejects unless the status is 2xx-4xx (the server answered). */
export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}
