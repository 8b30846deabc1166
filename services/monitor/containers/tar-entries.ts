/** One entry of a tar archive. */
export interface TarEntry {
  /** The path as stored (no leading `./`). */
  name: string;
  /** ustar type flag: '0' file, '5' directory, '2' symlink, ... */
  type: string;
  data: Buffer;
}

const BLOCK = 512;

/**
 * The entries of an uncompressed tar archive, as the Docker engine's archive
 * endpoint writes them (Go's archive/tar: ustar headers, PAX `x` records for
 * long names and large sizes, GNU `L` long names from other writers). Pure;
 * throws on a truncated or corrupt archive. Enough for the few small files
 * the monitor reads back from a container; not a general tar library.
 */
export function tarEntries(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  while (offset < archive.length) {
    if (offset + BLOCK > archive.length) throw new Error(`tar: header at ${offset} is cut short`);
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    checkChecksum(header, offset);
    const type = String.fromCharCode(header[156] ?? 0x30).replace('\0', '0');
    const size = Number(pax.size ?? octal(header.subarray(124, 136)));
    const start = offset + BLOCK;
    const end = start + size;
    if (end > archive.length) throw new Error(`tar: entry at ${offset} runs past the end`);
    const data = archive.subarray(start, end);
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      pax = parsePax(data);
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = cString(data);
      continue;
    }
    const prefix = cString(header.subarray(345, 500));
    const base = cString(header.subarray(0, 100));
    const name = pax.path ?? longName ?? (prefix === '' ? base : `${prefix}/${base}`);
    entries.push({ name: name.replace(/^\.\//, ''), type, data });
    pax = {};
    longName = undefined;
  }
  return entries;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

function octal(bytes: Buffer): number {
  const text = cString(bytes).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`tar: bad number field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function checkChecksum(header: Buffer, offset: number): void {
  const stored = octal(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  if (sum !== stored) throw new Error(`tar: bad header checksum at ${offset}`);
}

/** PAX extended header records: "<length> <key>=<value>\n". */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return out;
}
