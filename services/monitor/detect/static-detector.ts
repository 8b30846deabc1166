import type { WorkspaceProbe } from '../types.ts';
import type { Detector, DetectorResult } from './types.ts';

export const PUBLIC_INDEX_HTML = 'public/index.html';

/**
 * Static: index.html, else public/index.html, served by nginx in the static
 * runtime image (on 8080 unless workspace.json sets a port). The start
 * command only describes that: the image serves /app/public when /app has no
 * index.html of its own, the same rule as here.
 */
export const staticDetector: Detector = {
  type: 'static',
  signs: ['index.html', PUBLIC_INDEX_HTML],
  defaultPort: 8080,
  detect(probe: WorkspaceProbe): DetectorResult {
    const index = this.signs.find((file) => probe.files.has(file));
    if (index === undefined) return { kind: 'none' };
    const root = index === 'index.html' ? '/app' : '/app/public';
    return {
      kind: 'found',
      evidence: index,
      start: `nginx (serves ${root})`,
      startReason: `nginx serves ${root} (${index})`,
      install: null,
      installReason: 'nothing (static files)',
    };
  },
};
