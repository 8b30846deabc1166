/** What detection needs from a pyproject.toml. */
export interface PyprojectInfo {
  /** Whether it has a [project] table (so `pip install .` installs it). */
  hasProject: boolean;
  name: string | undefined;
  /** Names under [project.scripts], in file order. */
  scripts: string[];
}

const TABLE = /^\s*\[\s*([^[\]]+?)\s*\]\s*(?:#.*)?$/;
const KEY = /^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_.-]+))\s*=\s*(.*)$/;
const STRING_VALUE = /^(?:"([^"]*)"|'([^']*)')/;

/**
 * Reads the [project] and [project.scripts] tables of a pyproject.toml line
 * by line. Not a TOML parser: enough for the common layout written by
 * tools and by hand (tables as `[headers]`, one `key = value` per line);
 * an inline `scripts = { ... }` is not seen, and workspace.json `command`
 * covers whatever this misses.
 */
export function readPyproject(text: string): PyprojectInfo {
  const info: PyprojectInfo = { hasProject: false, name: undefined, scripts: [] };
  let table: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*\[\[/.test(line)) {
      table = undefined;
      continue;
    }
    const header = TABLE.exec(line);
    if (header !== null) {
      table = header[1]?.replace(/\s*\.\s*/g, '.');
      if (table === 'project' || table?.startsWith('project.') === true) info.hasProject = true;
      continue;
    }
    const entry = KEY.exec(line);
    if (entry === null) continue;
    const key = entry[1] ?? entry[2] ?? entry[3] ?? '';
    if (table === 'project.scripts') {
      info.scripts.push(key);
    } else if (table === 'project' && key === 'name') {
      const value = STRING_VALUE.exec((entry[4] ?? '').trim());
      info.name = value?.[1] ?? value?.[2];
    }
  }
  return info;
}
