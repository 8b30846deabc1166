// A dashboard section that asks an API every so often and hides itself when there is nothing
// to show. Subclasses fetch and render in refresh().
export class PolledSection {
  /** @param {{ section: HTMLElement }} options @param {{ intervalMs: number }} polling */
  constructor(options, polling) {
    this.section = options.section;
    this.tbody = options.section.querySelector('tbody');
    this.intervalMs = polling.intervalMs;
    this.timer = null;
  }

  /** Refresh now, then every intervalMs. */
  start(intervalMs = this.intervalMs) {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
  }

  hide() {
    this.section.hidden = true;
  }
}
