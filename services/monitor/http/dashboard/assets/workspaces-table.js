// The workspaces table: one row per workspace, updated in place from events,
// with an expandable live log under each row.
import { el, formatAgo, formatDuration, formatTime, setChildren, since } from './format.js';
import { LogPanel } from './log-panel.js';

const COLUMNS = 8;
const UP = new Set(['running', 'starting', 'restarting', 'pending']);

/** Which actions make sense in a state; the server has the last word (409 with a reason). */
function actionEnabled(action, state) {
  if (state === 'unrecognized') return false;
  if (action === 'start') return !UP.has(state);
  if (action === 'stop') return state !== 'stopped';
  return true;
}

/** How the serving container came to be: "dependencies reused · copy verified (12 files)". */
function deployLine(deploy) {
  const copy =
    deploy.copy === 'verified' ? `copy verified (${deploy.files} files)` : 'copy not verified';
  const deps =
    deploy.dependencies === 'none' ? 'nothing to install' : `dependencies ${deploy.dependencies}`;
  return el(
    'div',
    { class: 'message muted deploy', title: deploy.dependencyNote },
    `${deps} · ${copy}`,
  );
}

export class WorkspacesTable {
  /**
   * @param {{ tbody: HTMLElement, empty: HTMLElement, counts: HTMLElement,
   *           onAction: (name: string, action: string) => Promise<void> }} options
   */
  constructor(options) {
    this.tbody = options.tbody;
    this.empty = options.empty;
    this.counts = options.counts;
    this.onAction = options.onAction;
    /** name -> { view, row, detail, panel } */
    this.entries = new Map();
  }

  replaceAll(views) {
    const names = new Set(views.map((v) => v.name));
    for (const name of [...this.entries.keys()]) if (!names.has(name)) this.remove(name);
    for (const view of views) this.upsert(view);
    this.refreshSummary();
  }

  upsert(view) {
    let entry = this.entries.get(view.name);
    if (!entry) {
      entry = this.create(view);
      this.entries.set(view.name, entry);
      this.insertSorted(entry);
    }
    entry.view = view;
    this.fill(entry);
    this.refreshSummary();
  }

  remove(name) {
    const entry = this.entries.get(name);
    if (!entry) return;
    entry.panel.close();
    entry.row.remove();
    entry.detail.remove();
    this.entries.delete(name);
    this.refreshSummary();
  }

  /** Refresh the clock-driven cells (uptime, last change). */
  tick() {
    for (const entry of this.entries.values()) this.fillTimes(entry);
  }

  create(view) {
    const id = `ws-${[...view.name].map((c) => c.codePointAt(0).toString(36)).join('-')}`;
    const toggle = el(
      'button',
      {
        type: 'button',
        class: 'toggle',
        'aria-expanded': 'false',
        'aria-controls': `${id}-logs`,
        'aria-label': `Show logs of ${view.name}`,
        title: 'Logs',
      },
      el('span', { class: 'chevron', 'aria-hidden': 'true' }),
    );
    const cells = {
      name: el('th', { scope: 'row', class: 'name' }),
      type: el('td', { class: 'type' }),
      state: el('td', { class: 'state' }),
      reason: el('td', { class: 'reason' }),
      uptime: el('td', { class: 'num uptime' }),
      change: el('td', { class: 'num change' }),
      url: el('td', { class: 'url' }),
      actions: el('td', { class: 'actions' }),
    };
    const buttons = {};
    for (const action of ['restart', 'stop', 'start']) {
      buttons[action] = el(
        'button',
        {
          type: 'button',
          class: `action action-${action}`,
          dataset: { action },
          'aria-label': `${action[0].toUpperCase()}${action.slice(1)} ${view.name}`,
          onclick: () => this.act(view.name, action),
        },
        action,
      );
      cells.actions.append(buttons[action]);
    }
    const nameText = el('span', { class: 'name-text' }, view.name);
    cells.name.append(toggle, nameText);
    const row = el('tr', { class: 'ws', dataset: { name: view.name } }, Object.values(cells));
    const pre = el('pre', { class: 'log', tabindex: '0', 'aria-label': `Logs of ${view.name}` });
    const note = el('p', { class: 'log-note' });
    const detail = el(
      'tr',
      { class: 'detail', id: `${id}-logs`, hidden: true },
      el('td', { colspan: String(COLUMNS) }, el('div', { class: 'log-box' }, note, pre)),
    );
    const panel = new LogPanel({ name: view.name, pre, note });
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      toggle.setAttribute('aria-label', `${open ? 'Hide' : 'Show'} logs of ${view.name}`);
      detail.hidden = !open;
      row.classList.toggle('open', open);
      if (open) panel.open(this.entries.get(view.name)?.view.lastLogLines ?? []);
      else panel.close();
    });
    return { view, row, detail, panel, cells, buttons };
  }

  insertSorted(entry) {
    const after = [...this.entries.values()]
      .filter((e) => e !== entry && e.view.name.localeCompare(entry.view.name) > 0)
      .sort((a, b) => a.view.name.localeCompare(b.view.name))[0];
    if (after) this.tbody.insertBefore(entry.row, after.row);
    else this.tbody.append(entry.row);
    entry.row.after(entry.detail);
  }

  fill(entry) {
    const { view, cells, buttons } = entry;
    entry.row.dataset.state = view.state;

    setChildren(
      cells.type,
      view.type
        ? el('span', { class: `type-pill type-${view.type}` }, view.type)
        : el('span', { class: 'muted' }, '—'),
    );

    setChildren(
      cells.state,
      el('span', { class: `badge state-${view.state}` }, view.state),
      view.restarts > 0
        ? el('span', { class: 'restarts', title: `${view.restarts} restarts` }, `↻${view.restarts}`)
        : null,
      view.message ? el('div', { class: 'message' }, view.message) : null,
      view.deploy ? deployLine(view.deploy) : null,
    );

    setChildren(cells.reason, el('span', { title: view.reason }, view.reason));

    setChildren(
      cells.url,
      view.url ? el('a', { href: view.url, target: '_blank', rel: 'noopener' }, view.url) : '',
    );

    for (const [action, button] of Object.entries(buttons)) {
      if (!button.classList.contains('busy')) button.disabled = !actionEnabled(action, view.state);
    }
    this.fillTimes(entry);
  }

  fillTimes(entry) {
    const { view, cells } = entry;
    const up = view.startedAt && view.state === 'running' ? since(view.startedAt) : NaN;
    cells.uptime.textContent = Number.isFinite(up) ? formatDuration(up) : '—';
    cells.uptime.title = view.startedAt ? `since ${formatTime(view.startedAt)}` : '';
    const changed = since(view.lastChangeAt);
    cells.change.textContent = Number.isFinite(changed) ? formatAgo(changed) : '—';
    cells.change.title = view.lastChangeAt ? formatTime(view.lastChangeAt) : '';
  }

  async act(name, action) {
    const entry = this.entries.get(name);
    if (!entry) return;
    const all = Object.values(entry.buttons);
    for (const b of all) {
      b.disabled = true;
      b.classList.add('busy');
    }
    entry.buttons[action].setAttribute('aria-busy', 'true');
    try {
      await this.onAction(name, action);
    } finally {
      entry.buttons[action].removeAttribute('aria-busy');
      for (const b of all) b.classList.remove('busy');
      const current = this.entries.get(name);
      if (current) this.fill(current);
    }
  }

  refreshSummary() {
    this.empty.hidden = this.entries.size > 0;
    const byState = new Map();
    for (const { view } of this.entries.values())
      byState.set(view.state, (byState.get(view.state) ?? 0) + 1);
    const order = [
      'running',
      'starting',
      'restarting',
      'pending',
      'crashing',
      'error',
      'stopped',
      'unrecognized',
    ];
    setChildren(
      this.counts,
      ...order
        .filter((s) => byState.has(s))
        .map((s) => el('span', { class: `count state-${s}` }, `${byState.get(s)} ${s}`)),
    );
  }
}
