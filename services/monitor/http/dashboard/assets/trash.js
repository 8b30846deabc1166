// The Trash section: what the sync moved out of the bucket (a deleted workspace, deleted files),
// newest first, with the command that brings it back. Shown only when the trash holds something.
import { fetchJson } from './fetch-json.js';
import { PolledSection } from './polled-section.js';
import { el, formatAgo, formatTime, setChildren, since } from './format.js';

const URL_TRASH = '/api/trash';

export class TrashSection extends PolledSection {
  /** @param {{ section: HTMLElement }} options */
  constructor(options) {
    super(options, { intervalMs: 30_000 });
  }

  async refresh() {
    const body = await fetchJson(URL_TRASH);
    const entries = Array.isArray(body?.trash) ? body.trash : [];
    if (entries.length === 0) return this.hide();
    this.render(entries);
  }

  render(entries) {
    setChildren(
      this.tbody,
      ...entries.map((t) =>
        el(
          'tr',
          {
            class: 'trash-entry',
            dataset: { workspace: String(t.workspace), entry: String(t.entry) },
          },
          el('th', { scope: 'row', class: 'name' }, String(t.workspace)),
          el(
            'td',
            {},
            t.workspaceExists
              ? el('span', { class: 'badge' }, 'files deleted')
              : el('span', { class: 'badge trash-removed' }, 'workspace deleted'),
          ),
          el('td', { class: 'num', title: formatTime(t.deletedAt) }, formatAgo(since(t.deletedAt))),
          el('td', { class: 'mono' }, String(t.entry)),
          el('td', {}, el('code', { class: 'restore' }, String(t.restore))),
        ),
      ),
    );
    this.section.hidden = false;
  }
}
