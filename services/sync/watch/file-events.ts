/** What a file watcher reports. */
export type FileEventKind = 'add' | 'change' | 'unlink' | 'addDir' | 'unlinkDir';

export interface WatchRequest {
  /** Directory to watch (recursively, unless `depth` says otherwise). */
  root: string;
  /** 0: the root's own entries only. */
  depth?: number;
  /** Paths never watched (their contents cost nothing); `isDirectory` when known. */
  ignored?: (absPath: string, isDirectory: boolean | undefined) => boolean;
  onEvent: (kind: FileEventKind, absPath: string) => void;
  onError: (err: unknown) => void;
}

/** One running watch. */
export interface FileWatch {
  close(): Promise<void>;
}

/**
 * File events behind a small interface: the watcher logic never sees the
 * library. `watch` resolves once the initial scan is done, so every change
 * after that raises an event. Symlinks are never followed.
 */
export interface FileEvents {
  watch(request: WatchRequest): Promise<FileWatch>;
}
