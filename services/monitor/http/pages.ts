/**
 * Server-rendered pages: login and the error pages browsers see (unknown
 * workspace, not ready, app not answering). No scripts; one inline style sheet.
 * Every value is escaped.
 */

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Content-Security-Policy of the generated pages: inline styles only, no scripts. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b636e; --bg: #f6f7f9; --card: #fff; --line: #d9dde3; --accent: #2563eb; --bad: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #9aa3ad; --bg: #101317; --card: #181c21; --line: #2b3138; --accent: #6ea1ff; --bad: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { width: min(30rem, 92vw); background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1.75rem 2rem; }
h1 { font-size: 1.25rem; margin: 0 0 .5rem; }
p { margin: .5rem 0; color: var(--muted); }
code, .state { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
.state { color: var(--fg); }
.status { font-size: .8rem; letter-spacing: .04em; text-transform: uppercase; color: var(--muted); margin-bottom: .25rem; }
.error { color: var(--bad); }
label { display: block; font-weight: 600; margin: 1rem 0 .35rem; }
input { width: 100%; padding: .55rem .65rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); font: inherit; }
input:focus-visible, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
button { margin-top: 1rem; padding: .55rem 1.1rem; border: 0; border-radius: 6px; background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
a { color: var(--accent); }
`;

export interface PageOptions {
  title: string;
  /** Small line above the heading, e.g. "503 · not ready". */
  status?: string;
  /** Already-escaped HTML. */
  body: string;
  /** Reload the page after this many seconds (a workspace that is starting). */
  refreshSeconds?: number;
}

export function renderPage(options: PageOptions): string {
  const refresh =
    options.refreshSeconds !== undefined
      ? `\n<meta http-equiv="refresh" content="${options.refreshSeconds}">`
      : '';
  const status =
    options.status !== undefined ? `<div class="status">${escapeHtml(options.status)}</div>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">${refresh}
<title>${escapeHtml(options.title)} · bucketspace</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${status}<h1>${escapeHtml(options.title)}</h1>
${options.body}
</main>
</body>
</html>
`;
}

export function loginPage(options: { next: string; error?: string }): string {
  const error =
    options.error !== undefined
      ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>`
      : '<p>Enter the monitor token (<code>MONITOR_TOKEN</code>, or the one printed at the first start and kept in the data directory).</p>';
  return renderPage({
    title: 'bucketspace monitor',
    body: `${error}
<form method="post" action="/login">
<input type="hidden" name="next" value="${escapeHtml(options.next)}">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>`,
  });
}

/** A page of plain-text lines (escaped here), optionally with one link. */
export function messagePage(options: {
  title: string;
  status: string;
  lines: string[];
  link?: { href: string; text: string };
  refreshSeconds?: number;
}): string {
  const lines = options.lines.map((l) => `<p>${escapeHtml(l)}</p>`);
  if (options.link) {
    lines.push(
      `<p><a href="${escapeHtml(options.link.href)}">${escapeHtml(options.link.text)}</a></p>`,
    );
  }
  return renderPage({
    title: options.title,
    status: options.status,
    body: lines.join('\n'),
    ...(options.refreshSeconds !== undefined ? { refreshSeconds: options.refreshSeconds } : {}),
  });
}
