// The dashboard: a snapshot and live updates from /api/events (server-sent
// events), actions through the REST API, the mounts section when available.
import { el, setChildren } from './format.js';
import { MountsSection } from './mounts.js';
import { TrashSection } from './trash.js';
import { WorkspacesTable } from './workspaces-table.js';

const connection = document.getElementById('connection');
const banners = document.getElementById('banners');
const toasts = document.getElementById('toasts');

function setConnection(state, text) {
  connection.dataset.state = state;
  connection.querySelector('.text').textContent = text;
}

function toast(message, kind = 'error') {
  const node = el('div', { class: `toast toast-${kind}` }, message);
  toasts.append(node);
  setTimeout(() => node.remove(), 6000);
}

function goToLogin() {
  window.location.assign('/login?next=/monitor');
}

/** POST an action; a refusal (409 "nothing to start") is shown, the new state arrives as an event. */
async function runAction(name, action) {
  let res;
  try {
    res = await fetch(`/api/workspaces/${encodeURIComponent(name)}/${action}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
    });
  } catch {
    toast(`${action} ${name}: the monitor did not answer`);
    return;
  }
  if (res.status === 401) return goToLogin();
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    toast(`${action} ${name}: ${body?.error?.message ?? `HTTP ${res.status}`}`);
  }
}

const table = new WorkspacesTable({
  tbody: document.querySelector('#workspaces tbody'),
  empty: document.getElementById('empty'),
  counts: document.getElementById('counts'),
  onAction: runAction,
});

function showStatus(status) {
  const items = [];
  if (status.docker !== 'ok') {
    items.push(
      el(
        'div',
        { class: 'banner banner-bad', dataset: { kind: 'docker' } },
        el('strong', {}, 'Docker is unreachable.'),
        ` ${status.dockerReason ?? ''} Workspaces cannot be started or stopped until it is back.`,
      ),
    );
  }
  if (status.mount !== 'ok') {
    items.push(
      el(
        'div',
        { class: 'banner banner-warn', dataset: { kind: 'mount' } },
        el('strong', {}, 'The workspaces mount is unavailable.'),
        ` ${status.mountReason ?? ''} Running workspaces are kept; nothing is removed while it is away.`,
      ),
    );
  }
  if (status.isolation === 'failed' || status.isolation === 'pending') {
    items.push(
      el(
        'div',
        { class: 'banner banner-bad', dataset: { kind: 'isolation' } },
        el('strong', {}, 'Apps are not started: the apps firewall is not in place.'),
        ` ${status.isolationReason ?? ''} Running workspaces keep running.`,
      ),
    );
  } else if (status.isolation === 'off') {
    items.push(
      el(
        'div',
        { class: 'banner banner-warn', dataset: { kind: 'isolation' } },
        el('strong', {}, 'Apps are not kept apart'),
        ' (RUNTIME_ISOLATION=off): they can reach each other, this host and the cloud metadata address.',
      ),
    );
  }
  setChildren(banners, items);
}

let events = null;
let retryTimer = null;

function connect() {
  clearTimeout(retryTimer);
  events?.close();
  setConnection('connecting', 'connecting…');
  const source = new EventSource('/api/events');
  events = source;
  source.addEventListener('open', () => setConnection('live', 'live'));
  source.addEventListener('snapshot', (e) => {
    const data = JSON.parse(e.data);
    table.replaceAll(data.workspaces);
    showStatus(data.status);
    setConnection('live', 'live');
  });
  source.addEventListener('workspace', (e) => table.upsert(JSON.parse(e.data)));
  source.addEventListener('workspace-removed', (e) => {
    table.remove(JSON.parse(e.data).name);
    void trash.refresh(); // it is in the trash now, most likely
  });
  source.addEventListener('status', (e) => showStatus(JSON.parse(e.data)));
  source.addEventListener('error', async () => {
    if (source.readyState !== EventSource.CLOSED) {
      setConnection('reconnecting', 'reconnecting…');
      return;
    }
    // EventSource gives up on an HTTP error: find out whether the session ended.
    setConnection('offline', 'offline — retrying');
    const res = await fetch('/api/status', { credentials: 'same-origin' }).catch(() => null);
    if (res?.status === 401) return goToLogin();
    retryTimer = setTimeout(connect, 3000);
  });
}

const trash = new TrashSection({ section: document.getElementById('trash') });
connect();
setInterval(() => table.tick(), 1000);
trash.start();
new MountsSection({ section: document.getElementById('mounts') }).start();
