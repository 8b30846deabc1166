const BOM = '\uFEFF';

export type JsonParse = { ok: true; value: unknown } | { ok: false; reason: string };

/**
 * Parse a small JSON file for detection. The error names the file and where
 * the problem is (position, line and column), so the user can fix it.
 */
export function parseJsonFile(file: string, text: string): JsonParse {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `${file} is not valid JSON: ${withLineAndColumn(message, body)}` };
  }
}

/** V8 says "at position N" and usually "(line L column C)"; add the latter when missing. */
function withLineAndColumn(message: string, text: string): string {
  const position = /at position (\d+)/.exec(message);
  if (position === null || /\(line \d+ column \d+\)/.test(message)) return message;
  const offset = Number(position[1]);
  const before = text.slice(0, offset).split('\n');
  const line = before.length;
  const column = (before[before.length - 1]?.length ?? 0) + 1;
  return `${message} (line ${line} column ${column})`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
