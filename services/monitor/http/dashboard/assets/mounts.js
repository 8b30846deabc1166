// The Mounts section: shown only when the mount manager's API answers.
import { fetchJson } from './fetch-json.js';
import { PolledSection } from './polled-section.js';
import { el, setChildren } from './format.js';

const URL_MOUNTS = '/api/v0/mounts';

/** Roots may be paths or records naming a path. */
function formatRoots(roots) {
  if (!Array.isArray(roots)) return roots === undefined || roots === null ? '' : String(roots);
  return roots
    .map((r) =>
      r !== null && typeof r === 'object'
        ? String(r.path ?? r.link ?? r.target ?? JSON.stringify(r))
        : String(r),
    )
    .join(', ');
}

export class MountsSection extends PolledSection {
  /** @param {{ section: HTMLElement }} options */
  constructor(options) {
    super(options, { intervalMs: 10_000 });
  }

  async refresh() {
    const mounts = await fetchJson(URL_MOUNTS);
    if (mounts === undefined) return this.hide();
    // The mount manager answers { mounts: [...] }.
    const list = Array.isArray(mounts) ? mounts : mounts?.mounts;
    if (!Array.isArray(list)) return this.hide();
    this.render(list);
  }

  render(mounts) {
    setChildren(
      this.tbody,
      ...mounts.map((m) =>
        el(
          'tr',
          { dataset: { id: String(m.id ?? '') } },
          el('th', { scope: 'row', class: 'name' }, String(m.bucket ?? m.id ?? '')),
          el(
            'td',
            {},
            el(
              'span',
              {
                class: `badge mount-${m.healthy === false ? 'error' : String(m.state ?? 'unknown')}`,
              },
              m.healthy === false && m.state === 'running'
                ? 'unhealthy'
                : String(m.state ?? 'unknown'),
            ),
          ),
          el('td', { class: 'mono' }, String(m.mountPoint ?? '')),
          el('td', { class: 'mono' }, formatRoots(m.links ?? m.roots)),
          el('td', { class: 'num' }, m.pid === null || m.pid === undefined ? '—' : String(m.pid)),
          el(
            'td',
            { class: 'reason' },
            m.lastError
              ? el('span', { title: String(m.lastError) }, String(m.lastError))
              : el('span', { class: 'muted' }, '—'),
          ),
        ),
      ),
    );
    if (mounts.length === 0) {
      this.tbody.append(
        el('tr', {}, el('td', { colspan: '6', class: 'muted' }, 'No mounts registered.')),
      );
    }
    this.section.hidden = false;
  }
}
