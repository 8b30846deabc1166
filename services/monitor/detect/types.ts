import type { RuntimeType, WorkspaceProbe } from '../types.ts';

/**
 * What one detector found. `found` with `start: null` means the files say
 * which runtime it is but not how to start it (a package.json without
 * scripts.start, main or index.js): a workspace.json `command` completes it.
 */
export type DetectorResult =
  | { kind: 'none' }
  /** A file of this runtime is malformed (package.json that is not JSON): never run. */
  | { kind: 'invalid'; reason: string }
  | {
      kind: 'found';
      /** The file(s) that say which runtime it is: "package.json". */
      evidence: string;
      start: string | null;
      /** How the start command was chosen, or why there is none. */
      startReason: string;
      install: string | null;
      installReason: string;
    };

/** One runtime's detector; detectWorkspace asks them in order. */
export interface Detector {
  type: RuntimeType;
  /** The files whose presence makes this detector answer, for "looked for ..." reasons. */
  signs: readonly string[];
  /** Port the runtime's apps listen on unless workspace.json says otherwise. */
  defaultPort: number;
  detect(probe: WorkspaceProbe): DetectorResult;
}
