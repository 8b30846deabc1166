/**
 * Docker multiplexes a non-TTY container's stdout and stderr into frames: an
 * 8-byte header (stream type, 3 zero bytes, big-endian payload length), then
 * the payload. LogDemuxer turns such bytes, in chunks of any size, into lines.
 */
export class LogDemuxer {
  #pending: Buffer = Buffer.alloc(0);
  #partial = '';
  #raw = false;

  /** Feed bytes; returns the complete lines they finish. */
  push(chunk: Buffer): string[] {
    let text: string;
    if (this.#raw) {
      text = chunk.toString('utf8');
    } else {
      this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
      const parts: string[] = [];
      while (this.#pending.length >= 8) {
        const type = this.#pending[0];
        if (type !== 0 && type !== 1 && type !== 2) {
          // Not multiplexed (a TTY container): pass everything through as text.
          this.#raw = true;
          parts.push(this.#pending.toString('utf8'));
          this.#pending = Buffer.alloc(0);
          break;
        }
        const length = this.#pending.readUInt32BE(4);
        if (this.#pending.length < 8 + length) break;
        parts.push(this.#pending.subarray(8, 8 + length).toString('utf8'));
        this.#pending = this.#pending.subarray(8 + length);
      }
      text = parts.join('');
    }
    return this.#lines(text);
  }

  /** The last unterminated line, if any. */
  flush(): string[] {
    const rest = this.#partial;
    this.#partial = '';
    return rest === '' ? [] : [rest];
  }

  #lines(text: string): string[] {
    if (text === '') return [];
    const all = (this.#partial + text).split('\n');
    this.#partial = all.pop() ?? '';
    return all.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }
}

export function demuxLog(buffer: Buffer): string[] {
  const demuxer = new LogDemuxer();
  return [...demuxer.push(buffer), ...demuxer.flush()];
}

/**
 * The lines of a multiplexed log stream as they come; a failure of the
 * stream is passed to `onError` (and ends it quietly when the signal aborted).
 */
export async function* demuxStream(
  stream: NodeJS.ReadableStream,
  signal: AbortSignal,
  onError: (err: unknown) => Error,
): AsyncIterable<string> {
  const demuxer = new LogDemuxer();
  try {
    for await (const chunk of stream) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      yield* demuxer.push(buffer);
    }
    yield* demuxer.flush();
  } catch (err) {
    if (signal.aborted) return;
    throw onError(err);
  }
}
