/**
 * The frame every dashboard page shares: document head with the inline style
 * sheet (no external resources, so it works offline), the navigation, a
 * notice after an action, and helpers for links, forms and previews.
 */
import type { JobStatus } from "../../queue/types.js";
import { type Preview, preview } from "../format.js";
import { html, type SafeHtml, trusted } from "../html.js";

/** What every page renders with. */
export interface PageContext {
  /** Path prefix the dashboard is mounted at, without a trailing slash ("" at the root). */
  base: string;
  /** Wall time the page is rendered at. */
  now: number;
  /** Actions are offered (a live queue and not read-only). */
  writable: boolean;
  /** The queue has closed or stopped (the header's badge says so instead of "live queue"). */
  stopped: boolean;
  /** The action token the forms carry. */
  token: string;
  /** The path and query of this page (forms return here). */
  self: string;
  /** Message of the action that led here, if any. */
  notice: string | undefined;
  /** Auto-refresh period in seconds, or 0 for none. */
  refreshSeconds: number;
}

const STYLE = trusted(`
:root{color-scheme:light;--fg:#1d2330;--muted:#5f6b7a;--line:#d9dee5;--bg:#f6f7f9;--accent:#2856c7;--ok:#2e8b57;--bad:#c0392b;--warn:#b7791f}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:24px;align-items:center;padding:10px 24px;background:#1d2330;color:#fff}
header .brand{font-weight:700;letter-spacing:.5px}header a{color:#cfd8ea;text-decoration:none}header a.on,header a:hover{color:#fff}
header .mode{margin-left:auto;font-size:12px;padding:2px 8px;border-radius:10px;background:#3a4560}
main{padding:16px 24px;max-width:1200px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f5;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.3px;color:var(--muted)}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
a{color:var(--accent)}code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}pre{margin:0;white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid var(--line);padding:8px;max-height:420px;overflow:auto}
.preview{max-width:300px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;display:block}
.muted{color:var(--muted)}.notice{background:#e8f3ec;border:1px solid #b8dcc6;padding:8px 12px;margin-bottom:12px}.notice.failed{background:#fbe3e0;border-color:#e6b8b2}progress{width:240px;vertical-align:middle}
.tabs{display:flex;gap:4px;margin:8px 0}.tabs a{padding:4px 10px;border:1px solid var(--line);background:#fff;text-decoration:none;border-radius:4px}.tabs a.on{background:var(--accent);color:#fff;border-color:var(--accent)}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;background:#eef1f5}.s-dead{background:#fbe3e0;color:var(--bad)}.s-done{background:#e3f3e9;color:var(--ok)}.s-claimed{background:#fff1d6;color:var(--warn)}
form.inline{display:inline}form.inline+form.inline{margin-left:6px}td.actions{white-space:nowrap}button{font:inherit;padding:3px 10px;border:1px solid var(--line);background:#fff;border-radius:4px;cursor:pointer}button.danger{color:var(--bad);border-color:#e6b8b2}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:8px;margin:8px 0}.card{background:#fff;border:1px solid var(--line);padding:8px 12px}.card b{display:block;font-size:20px}
dl{display:grid;grid-template-columns:200px 1fr;gap:4px 12px;background:#fff;border:1px solid var(--line);padding:10px 12px;margin:0}dt{color:var(--muted)}dd{margin:0}
.chart{margin:0;background:#fff;border:1px solid var(--line);padding:8px}.chart svg text{font-size:10px;fill:var(--muted)}.c-grid{stroke:#e5e8ee}.c-done{fill:var(--ok)}.c-fail{fill:var(--bad)}.c-enq{stroke:var(--accent);stroke-width:1.5}.c-pending{stroke:var(--warn);stroke-width:1.5;stroke-dasharray:4 3}.chart svg text.c-axis-pending{fill:var(--warn)}
figcaption{font-size:12px;color:var(--muted);margin-top:4px}.k{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}.k-done{background:var(--ok)}.k-fail{background:var(--bad)}.k-enq{background:var(--accent)}.k-pending{background:var(--warn)}
`);

export const STATES: readonly JobStatus[] = ["pending", "scheduled", "claimed", "done", "dead"];

/** A dashboard URL: `path` under the mount point with `query`. */
export function href(
  ctx: PageContext,
  path: string,
  query: Record<string, string | undefined> = {},
): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  const q = params.toString();
  return `${ctx.base}${path}${q === "" ? "" : `?${q}`}`;
}

export function queueLink(ctx: PageContext, queue: string, state?: JobStatus): SafeHtml {
  return html`<a href="${href(ctx, "/queue", { name: queue, state })}">${queue}</a>`;
}

export function jobLink(ctx: PageContext, id: string): SafeHtml {
  return html`<a href="${href(ctx, "/job", { id })}"><code>${id}</code></a>`;
}

export function statusBadge(status: string): SafeHtml {
  return html`<span class="badge s-${status}">${status}</span>`;
}

/** A POST form with the token, returning to this page; nothing when actions are off. */
export function actionForm(
  ctx: PageContext,
  action: string,
  fields: Record<string, string>,
  label: string,
  options: { danger?: boolean; confirm?: string } = {},
): SafeHtml {
  if (!ctx.writable) return html``;
  const hidden = Object.entries(fields).map(
    ([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`,
  );
  return html`<form class="inline" method="post" action="${href(ctx, "/action")}"><input type="hidden" name="action" value="${action}"><input type="hidden" name="token" value="${ctx.token}"><input type="hidden" name="back" value="${ctx.self}">${hidden}<button type="submit" data-action="${action}"${options.danger ? trusted(' class="danger"') : ""}>${label}</button></form>`;
}

/** A preview of payload or result bytes: one line in lists, the whole (cut) value on job pages. */
export function bytesPreview(bytes: Uint8Array | undefined, full: boolean): SafeHtml {
  if (bytes === undefined) return html`<span class="muted">—</span>`;
  const p: Preview = preview(bytes, full ? 65_536 : 160, full);
  if (p.kind === "empty") return html`<span class="muted">(empty)</span>`;
  const note =
    p.kind === "binary" ? `binary, ${p.bytes} bytes` : p.truncated ? `${p.bytes} bytes, cut` : "";
  if (!full)
    return html`<code class="preview" title="${p.kind === "binary" ? note : p.text}">${p.kind === "binary" ? `⟨${note}⟩` : p.text}</code>`;
  return html`<pre>${p.text}</pre>${note === "" ? "" : html`<div class="muted">${note}</div>`}`;
}

/** The whole document. */
export function page(
  ctx: PageContext,
  title: string,
  nav: "queues" | "schedules" | "health",
  body: SafeHtml,
): string {
  const refresh =
    ctx.refreshSeconds > 0 ? html`<meta http-equiv="refresh" content="${ctx.refreshSeconds}">` : "";
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">${refresh}
<link rel="icon" href="data:,"><title>${title} · taquba</title><style>${STYLE}</style></head>
<body><header><span class="brand">taquba</span><a href="${href(ctx, "/")}"${nav === "queues" ? trusted(' class="on"') : ""}>Queues</a><a href="${href(ctx, "/schedules")}"${nav === "schedules" ? trusted(' class="on"') : ""}>Schedules</a><a href="${href(ctx, "/health")}"${nav === "health" ? trusted(' class="on"') : ""}>Store health</a><span class="mode">${ctx.stopped ? "stopped queue" : ctx.writable ? "live queue" : "read-only"}</span></header>
<main>${ctx.notice === undefined ? "" : html`<div class="notice" role="status">${ctx.notice}</div>`}${body}</main></body></html>
`.value;
}
