import { watch } from 'chokidar';
import type { FileEvents, FileEventKind, FileWatch, WatchRequest } from './file-events.ts';

const KINDS: readonly FileEventKind[] = ['add', 'change', 'unlink', 'addDir', 'unlinkDir'];

/** FileEvents over chokidar (inotify on Linux, FSEvents on macOS). */
export const chokidarEvents: FileEvents = {
  async watch(request: WatchRequest): Promise<FileWatch> {
    const { ignored } = request;
    const watcher = watch(request.root, {
      ignoreInitial: true,
      followSymlinks: false,
      ...(request.depth !== undefined ? { depth: request.depth } : {}),
      ...(ignored
        ? {
            ignored: (path: string, stats?: { isDirectory(): boolean }) =>
              ignored(path, stats?.isDirectory()),
          }
        : {}),
    });
    for (const kind of KINDS) watcher.on(kind, (path: string) => request.onEvent(kind, path));
    watcher.on('error', (err) => request.onError(err));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    return { close: () => watcher.close() };
  },
};
