/** A small seeded PRNG (mulberry32), so generated trees are the same on every machine. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Log-uniform integer in [min, max]: many small values, a few large ones, like real files. */
  logUniform(min: number, max: number): number {
    return Math.round(Math.exp(Math.log(min) + this.next() * (Math.log(max) - Math.log(min))));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

const WORDS = [
  'const',
  'let',
  'return',
  'function',
  'import',
  'export',
  'await',
  'async',
  'if',
  'else',
  'value',
  'result',
  'items',
  'config',
  'request',
  'response',
  'user',
  'session',
  'index',
  'length',
  'map',
  'filter',
  'reduce',
  'push',
  'error',
  'data',
  'options',
  'state',
  'props',
  'render',
  'handler',
  'count',
  'name',
  'path',
  'null',
  'true',
  'false',
  '=',
  '=>',
  '+',
  '{',
  '}',
];

/** Code-looking ASCII text (one byte per character) of exactly `length` bytes. */
export function codeText(rng: Random, length: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < length) {
    const indent = '  '.repeat(rng.int(0, 3));
    const words: string[] = [];
    for (let i = rng.int(2, 10); i > 0; i--) words.push(rng.pick(WORDS));
    const line = `${indent}${words.join(' ')};${rng.int(0, 99999)}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('').slice(0, length);
}

/** Slices of one pre-generated block of code text: cheap content for tens of thousands of files. */
export class TextPool {
  private readonly text: string;

  constructor(rng: Random, size = 256 * 1024) {
    const block = codeText(rng, size);
    this.text = block + block;
  }

  /** `length` bytes starting with `header`, the rest taken from a random place in the pool. */
  take(rng: Random, header: string, length: number): string {
    const body = Math.max(0, length - header.length);
    if (body > this.text.length / 2) return (header + codeText(rng, body)).slice(0, length);
    const start = rng.int(0, this.text.length / 2 - 1);
    return (header + this.text.slice(start, start + body)).slice(0, length);
  }
}
