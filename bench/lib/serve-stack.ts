// The Compose stack `bench serve` measures: this repository's files for one
// mount variant, run against an S3 server on this host (s3rver standing in,
// as for the your-own-S3 variant) behind the counting proxy, so every S3
// request the mount, the sync and the monitor make is counted.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { existsSync } from 'node:fs';
import { testClient } from '../../test/support/bucket.ts';
import { ComposeStack, hostGateway } from '../../test/support/compose-stack.ts';
import { startCountingProxy, type CountingProxy } from '../../test/support/counting-proxy.ts';
import { docker } from '../../test/support/docker.ts';
import { startTestS3, type TestS3 } from '../../test/support/s3-server.ts';

export type Variant = 'rclone' | 's3fs' | 'direct';
export const VARIANTS: readonly Variant[] = ['rclone', 's3fs', 'direct'];

/** `before`: the defaults the stack had before the edit loop was reworked; `after`: today's. */
export type Settings = 'before' | 'after';
export const SETTINGS: readonly Settings[] = ['before', 'after'];

const VARIANT_FILES: Record<Variant, string> = {
  rclone: 'docker-compose.rclone.yml',
  s3fs: 'docker-compose.s3fs.yml',
  direct: 'docker-compose.s3-direct.yml',
};

/** The old defaults of the .env settings (bench/serve-before.yml holds the rest). */
function beforeEnv(variant: Variant): Record<string, string> {
  return {
    ...(variant === 'rclone' ? { RCLONE_VFS_CACHE_MODE: 'full' } : {}),
    RCLONE_DIR_CACHE_TIME: '5s',
    RCLONE_ATTR_TIMEOUT: '1s',
    MONITOR_POLL_INTERVAL: '5s',
    MONITOR_RESTART_DEBOUNCE: '1s',
    // Every container installed its dependencies afresh.
    RUNTIME_DEPENDENCY_CACHE: 'false',
  };
}

/** The machine's CA bundle, so `npm install` in the app containers trusts a proxy's CA. */
function caBundle(): Record<string, string> {
  const path = '/etc/ssl/certs/ca-certificates.crt';
  return existsSync(path) ? { RUNTIME_CA_BUNDLE: path } : {};
}

export interface ServeStack {
  variant: Variant;
  settings: Settings;
  stack: ComposeStack;
  proxy: CountingProxy;
  /** Where edits are saved: the local workspaces (sync) or the mount (direct). */
  editRoot: string;
  /** Compose service of a source address seen by the proxy. */
  serviceOf(address: string): Promise<string>;
  close(): Promise<void>;
}

export async function startServeStack(variant: Variant, settings: Settings): Promise<ServeStack> {
  const gateway = await hostGateway();
  let s3: TestS3 | undefined;
  let proxy: CountingProxy | undefined;
  let stack: ComposeStack | undefined;
  const close = async () => {
    await stack?.destroy();
    await proxy?.close();
    await s3?.close();
  };
  try {
    s3 = await startTestS3({ address: gateway });
    const outside = s3;
    proxy = await startCountingProxy(() => outside.endpoint, { address: gateway });
    const bucket = s3.newBucketName();
    const client = testClient(s3);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    stack = await ComposeStack.create(`bench${variant}${settings}`, {
      files: [
        'docker-compose.external-s3.yml',
        VARIANT_FILES[variant],
        ...(settings === 'before' ? ['bench/serve-before.yml'] : []),
      ],
      s3rver: false,
      env: {
        ...s3.env(bucket),
        S3_ENDPOINT: proxy.url,
        ...caBundle(),
        ...(settings === 'before' ? beforeEnv(variant) : {}),
      },
    });
    const started = stack;
    const addresses = new Map<string, string>();
    return {
      variant,
      settings,
      stack: started,
      proxy,
      editRoot: variant === 'direct' ? `${started.mountRoot}/workspaces` : started.workspacesDir,
      serviceOf: async (address) => {
        if (!addresses.has(address)) {
          for (const c of await started.containers()) {
            const info = await docker.getContainer(c.Id).inspect();
            const service = info.Config.Labels['com.docker.compose.service'] ?? c.Id;
            for (const net of Object.values(info.NetworkSettings.Networks ?? {})) {
              if (net.IPAddress) addresses.set(net.IPAddress, service);
            }
          }
        }
        return addresses.get(address) ?? `other (${address})`;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
