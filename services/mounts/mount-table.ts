/** One line of the mount table: where, what kind, from what. */
export interface MountEntry {
  mountPoint: string;
  fstype: string;
  source: string;
}

/** `\040` (space), `\011`, `\012`, `\134` (backslash) as the kernel writes them. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parse Linux /proc/self/mountinfo: `id parent maj:min root mountpoint opts
 * [optional...] - fstype source superopts`.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const fstype = fields[dash + 1];
    if (dash < 0 || mountPoint === undefined || fstype === undefined) continue;
    out.push({
      mountPoint: unescapeOctal(mountPoint),
      fstype,
      source: unescapeOctal(fields[dash + 2] ?? ''),
    });
  }
  return out;
}

/** Parse macOS `mount` output: `source on /path (fstype, options...)`. */
export function parseMacMount(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(.*) on (.*) \(([^,)]+)[,)]/.exec(line);
    if (m) out.push({ source: m[1] ?? '', mountPoint: m[2] ?? '', fstype: m[3] ?? '' });
  }
  return out;
}
