/**
 * A one-line counter on the terminal ("building tree: 12,345 / 55,000 files").
 * On a TTY the line is redrawn at most every 100 ms; otherwise a line is
 * printed at every 10% so logs stay short.
 */
export class ProgressLine {
  private readonly out: NodeJS.WriteStream;
  private readonly label: string;
  private readonly total: number;
  private readonly unit: string;
  private done = 0;
  private lastDraw = 0;
  private lastDecile = -1;

  constructor(options: { out: NodeJS.WriteStream; label: string; total: number; unit: string }) {
    this.out = options.out;
    this.label = options.label;
    this.total = options.total;
    this.unit = options.unit;
  }

  tick(n = 1): void {
    this.done += n;
    if (this.out.isTTY) {
      const now = performance.now();
      if (now - this.lastDraw >= 100 || this.done >= this.total) {
        this.lastDraw = now;
        this.out.write(`\r${this.text()}`);
      }
      return;
    }
    const decile = Math.floor((this.done / Math.max(1, this.total)) * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      this.out.write(`${this.text()}\n`);
    }
  }

  finish(): void {
    if (this.out.isTTY) this.out.write(`\r${this.text()}\n`);
    else if (this.lastDecile < 10) this.out.write(`${this.text()}\n`);
  }

  private text(): string {
    const f = (n: number) => n.toLocaleString('en-US');
    return `${this.label}: ${f(this.done)} / ${f(this.total)} ${this.unit}`;
  }
}
