/**
 * The queues page: the totals and throughput over time of every queue, and
 * the queues with their counts a page at a time (thousands of rows would
 * hold the event loop for as long as they take to render).
 */
import { throughputChart } from "../chart.js";
import type { History } from "../history.js";
import { html } from "../html.js";
import type { DashboardSource } from "../source.js";
import { href, type PageContext, page, queueLink } from "./layout.js";

/** Queues listed per page. */
export const QUEUES_PER_PAGE = 200;

/** The overview, its table listing the queues whose names sort after `after` (all when undefined). */
export async function overviewPage(
  ctx: PageContext,
  source: DashboardSource,
  history: History,
  after: string | undefined,
): Promise<string> {
  const stats = await source.allStats();
  const totals = { pending: 0, scheduled: 0, claimed: 0, done: 0, dead: 0 };
  for (const s of stats)
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += s[k];
  // Queues come sorted by name (code units), as `>` compares them.
  const first = after === undefined ? 0 : stats.findIndex((s) => s.queue > after);
  const shown = first < 0 ? [] : stats.slice(first, first + QUEUES_PER_PAGE);
  const last = shown.at(-1);
  // Pages after the first link back to it, as well as on to the next.
  const links = [
    ...(first === 0 ? [] : [html`<a href="${href(ctx, "/")}" rel="first">← First queues</a>`]),
    ...(last !== undefined && first + shown.length < stats.length
      ? [html`<a href="${href(ctx, "/", { after: last.queue })}" rel="next">Next queues →</a>`]
      : []),
  ];
  const next =
    links.length === 0 ? "" : html`<p>${links.map((l, i) => (i === 0 ? l : html` · ${l}`))}</p>`;
  const rows = shown.map(
    (
      s,
    ) => html`<tr><td>${queueLink(ctx, s.queue)}${s.paused === true ? html` <span class="badge">paused</span>` : ""}</td>
<td class="n"><a href="${href(ctx, "/queue", { name: s.queue, state: "pending" })}">${s.pending}</a></td>
<td class="n">${s.scheduled}</td><td class="n">${s.claimed}</td><td class="n">${s.done}</td>
<td class="n"><a href="${href(ctx, "/queue", { name: s.queue, state: "dead" })}">${s.dead}</a></td></tr>`,
  );
  const body = html`<h1>Queues</h1>
<div class="grid">${(Object.keys(totals) as (keyof typeof totals)[]).map((k) => html`<div class="card"><span class="muted">${k}</span><b>${totals[k]}</b></div>`)}</div>
<h2>Throughput, all queues</h2>
${throughputChart(history.series(null, ctx.now), "Jobs per interval, all queues", !source.writable)}
<h2>${stats.length} ${stats.length === 1 ? "queue" : "queues"}</h2>
${
  stats.length === 0
    ? html`<p class="muted">No queue has held a job yet.</p>`
    : html`<table id="queues"><thead><tr><th>queue</th><th class="n">pending</th><th class="n">scheduled</th><th class="n">claimed</th><th class="n">done (total)</th><th class="n">dead</th></tr></thead><tbody>${rows}</tbody></table>${next}`
}
<p class="muted">${source.writable ? "Throughput counts jobs since this dashboard started, from the queue's events." : "Read-only: completions are counted from the growth of each queue's done counter between snapshots."}</p>`;
  return page(ctx, "Queues", "queues", body);
}
