import type { WorkspaceProbe } from '../../services/monitor/types.ts';

/**
 * A probe for detection tests: each file maps to its text, or to null when
 * only its existence matters (texts of files detection does not read).
 */
export function probeOf(files: Record<string, string | null>, name = 'shop'): WorkspaceProbe {
  const texts = new Map<string, string>();
  for (const [file, text] of Object.entries(files)) if (text !== null) texts.set(file, text);
  return { name, files: new Set(Object.keys(files)), texts };
}
