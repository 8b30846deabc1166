// The live log of one workspace, shown while its row is expanded.

const MAX_LINES = 1000;

export class LogPanel {
  /** @param {{ name: string, pre: HTMLElement, note: HTMLElement }} options */
  constructor(options) {
    this.name = options.name;
    this.pre = options.pre;
    this.note = options.note;
    this.source = null;
    this.lines = [];
  }

  /** Start following; `previous` (the last lines of a crashed container) shows until live lines come. */
  open(previous) {
    this.close();
    this.lines = [];
    const hasPrevious = previous.length > 0;
    this.pre.textContent = hasPrevious ? previous.join('\n') : '';
    this.note.textContent = hasPrevious
      ? 'Last lines before the container stopped:'
      : 'Loading logs…';
    const url = `/api/workspaces/${encodeURIComponent(this.name)}/logs?follow=1&tail=200`;
    const source = new EventSource(url);
    this.source = source;
    // Each (re)connection starts with the tail again: it replaces what is shown.
    let fresh = true;
    source.addEventListener('line', (event) => {
      if (fresh) {
        fresh = false;
        this.lines = [];
        this.pre.textContent = '';
        this.note.textContent = 'Live';
      }
      this.append(JSON.parse(event.data));
    });
    source.addEventListener('open', () => {
      fresh = true;
      if (this.lines.length === 0 && !hasPrevious) this.note.textContent = 'Live (no output yet)';
    });
    source.addEventListener('end', () => {
      this.note.textContent = 'The container has gone; this is its last output.';
      this.stop();
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        this.note.textContent = hasPrevious
          ? 'Last lines before the container stopped (no live log: the workspace is not running):'
          : 'No log: the workspace has no container now.';
        this.stop();
      } else {
        this.note.textContent = 'Reconnecting…';
      }
    });
  }

  append(line) {
    const atBottom = this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 24;
    this.lines.push(line);
    if (this.lines.length > MAX_LINES) {
      this.lines.splice(0, this.lines.length - MAX_LINES);
      this.pre.textContent = this.lines.join('\n');
    } else {
      this.pre.append(document.createTextNode(`${this.lines.length > 1 ? '\n' : ''}${line}`));
    }
    if (atBottom) this.pre.scrollTop = this.pre.scrollHeight;
  }

  stop() {
    this.source?.close();
    this.source = null;
  }

  close() {
    this.stop();
  }
}
