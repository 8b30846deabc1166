const BOM = '\uFEFF';

export type JsonParse = { ok: true; value: unknown } | { ok: false; reason: string };

/**
 * Parse a small JSON file for detection. The error names the file and where
 * the problem is: V8's message gives the position, line and column.
 */
export function parseJsonFile(file: string, text: string): JsonParse {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `${file} is not valid JSON: ${message}` };
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
