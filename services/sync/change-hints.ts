// What the sync tells others after a batch lands in S3: first the bucket's
// mount forgets the changed workspaces' directories (MOUNT_RC_URL), then the
// monitor rescans those workspaces (MONITOR_URL), which now see the change
// through the mount at once. Each hint is only a shortcut: a lost one is
// caught when the mount's directory cache expires and the monitor polls.
import { SequentialNotifier, type ChangeNotifier } from '../common/hint-sender.ts';
import type { Logger } from '../common/logger.ts';
import { MonitorClient } from '../common/monitor-client.ts';
import { MountRcClient, mountRcPassword } from '../common/mount-rc-client.ts';

export interface ChangeHintSettings {
  mountRcUrl: string | undefined;
  mountRcUser: string;
  mountRcPass: string | undefined;
  monitorUrl: string | undefined;
  monitorToken: string | undefined;
}

export interface ChangeHints extends ChangeNotifier {
  /** Abandon hints in flight (the sync is stopping). */
  close(): void;
}

/** The password of the mount's remote control: MOUNT_RC_PASS, else derived from the S3 secret. */
export function mountRcPasswordFor(
  settings: Pick<ChangeHintSettings, 'mountRcPass'>,
  s3SecretAccessKey: string | undefined,
): string | undefined {
  if (settings.mountRcPass !== undefined) return settings.mountRcPass;
  return s3SecretAccessKey === undefined ? undefined : mountRcPassword(s3SecretAccessKey);
}

/** Problems of these settings (listed with the sync's other configuration problems). */
export function changeHintProblems(
  settings: ChangeHintSettings,
  s3SecretAccessKey: string | undefined,
): string[] {
  const problems: string[] = [];
  if (settings.monitorUrl !== undefined && settings.monitorToken === undefined) {
    problems.push(
      'MONITOR_TOKEN: required with MONITOR_URL (the monitor refuses hooks without its token)',
    );
  }
  if (
    settings.mountRcUrl !== undefined &&
    mountRcPasswordFor(settings, s3SecretAccessKey) === undefined
  ) {
    problems.push(
      'MOUNT_RC_PASS: required with MOUNT_RC_URL when S3 credentials come from the AWS default chain (no S3_SECRET_ACCESS_KEY to derive it from)',
    );
  }
  return problems;
}

/** The hints these settings ask for, in order (mount, then monitor); undefined when none. */
export function changeHints(
  settings: ChangeHintSettings,
  s3SecretAccessKey: string | undefined,
  logger: Logger,
): ChangeHints | undefined {
  const clients: Array<MountRcClient | MonitorClient> = [];
  const password = mountRcPasswordFor(settings, s3SecretAccessKey);
  if (settings.mountRcUrl !== undefined && password !== undefined) {
    clients.push(
      new MountRcClient({
        url: settings.mountRcUrl,
        user: settings.mountRcUser,
        password,
        logger,
      }),
    );
  }
  if (settings.monitorUrl !== undefined && settings.monitorToken !== undefined) {
    clients.push(
      new MonitorClient({ url: settings.monitorUrl, token: settings.monitorToken, logger }),
    );
  }
  if (clients.length === 0) return undefined;
  const chain = new SequentialNotifier(clients);
  return {
    notifyChanged: (names) => chain.notifyChanged(names),
    close: () => {
      for (const c of clients) c.close();
    },
  };
}
