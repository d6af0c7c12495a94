/**
 * One queue: its counts, its throughput chart, and its jobs by state with a
 * payload preview; dead jobs with requeue and remove (one or all).
 */
import type { JobRecord, JobStatus } from "../../queue/types.js";
import { throughputChart } from "../chart.js";
import { childCount, relative } from "../format.js";
import type { History } from "../history.js";
import { html, type SafeHtml } from "../html.js";
import type { DashboardSource } from "../source.js";
import {
  actionForm,
  bytesPreview,
  href,
  jobLink,
  type PageContext,
  page,
  STATES,
} from "./layout.js";

/** Jobs per page. */
export const PAGE_SIZE = 50;

function when(ctx: PageContext, job: JobRecord, state: JobStatus): string {
  switch (state) {
    case "scheduled":
      return job.waitingChildren === undefined
        ? `runs ${relative(job.runAt, ctx.now)}`
        : `waits for ${childCount(job.waitingChildren)}`;
    case "claimed":
      return `claimed ${relative(job.claimedAt, ctx.now)}`;
    case "done":
      return `done ${relative(job.completedAt, ctx.now)}`;
    case "dead":
      return `failed ${relative(job.failedAt, ctx.now)}`;
    default:
      return `enqueued ${relative(job.enqueuedAt, ctx.now)}`;
  }
}

function jobRow(ctx: PageContext, job: JobRecord, state: JobStatus): SafeHtml {
  const actions =
    state === "dead"
      ? html`${actionForm(ctx, "requeue", { id: job.id }, "Requeue")}${actionForm(ctx, "remove", { id: job.id }, "Remove", { danger: true })}`
      : state === "pending" || state === "scheduled" || state === "claimed"
        ? actionForm(ctx, "cancel", { id: job.id }, "Cancel", { danger: true })
        : html``;
  const payload =
    job.payloadRef === undefined
      ? bytesPreview(job.payload, false)
      : html`<a class="muted offloaded" href="${href(ctx, "/job", { id: job.id })}">offloaded, ${job.payloadSize ?? "?"} bytes</a>`;
  return html`<tr data-job="${job.id}"><td>${jobLink(ctx, job.id)}</td><td>${payload}</td>
<td class="n">${job.attempts}/${job.maxAttempts}</td><td>${when(ctx, job, state)}</td>
<td>${job.lastError === undefined ? "" : html`<code class="preview" title="${job.lastError}">${job.lastError}</code>`}</td>
${ctx.writable ? html`<td class="actions">${actions}</td>` : ""}</tr>`;
}

export async function queuePage(
  ctx: PageContext,
  source: DashboardSource,
  history: History,
  name: string,
  state: JobStatus,
  cursor: string | undefined,
): Promise<string> {
  const stats = await source.stats(name);
  const listed = await source.jobs(name, state, cursor, PAGE_SIZE);
  const tabs = STATES.map(
    (s) =>
      html`<a href="${href(ctx, "/queue", { name, state: s })}"${s === state ? html` class="on"` : ""}>${s} (${stats[s]})</a>`,
  );
  let jobs: SafeHtml;
  if (listed.jobs.length === 0) jobs = html`<p class="muted" id="no-jobs">No ${state} jobs.</p>`;
  else
    jobs = html`<table id="jobs"><thead><tr><th>id</th><th>payload</th><th class="n">attempts</th><th>when</th><th>last error</th>${ctx.writable ? html`<th></th>` : ""}</tr></thead>
<tbody>${listed.jobs.map((job) => jobRow(ctx, job, state))}</tbody></table>
${listed.nextCursor === undefined ? "" : html`<p><a href="${href(ctx, "/queue", { name, state, cursor: listed.nextCursor })}" rel="next">Next page →</a></p>`}`;
  const bulk: SafeHtml[] = [];
  if (state === "dead" && stats.dead > 0) {
    bulk.push(
      actionForm(ctx, "requeue-all", { queue: name }, `Requeue all ${stats.dead} dead jobs`),
    );
    bulk.push(
      actionForm(ctx, "remove-dead", { queue: name }, `Remove all ${stats.dead} dead jobs`, {
        danger: true,
      }),
    );
  }
  if (ctx.writable)
    bulk.push(
      stats.paused === true
        ? actionForm(ctx, "resume", { queue: name }, "Resume queue")
        : actionForm(ctx, "pause", { queue: name }, "Pause queue"),
    );
  const body = html`<p class="muted"><a href="${href(ctx, "/")}">Queues</a> /</p>
<h1>${name}${stats.paused === true ? html` <span class="badge">paused</span>` : ""}</h1>
${throughputChart(history.series(name, ctx.now), `Jobs per interval in queue ${name}`, !source.writable)}
<nav class="tabs" aria-label="Job states">${tabs}</nav>
${bulk.length === 0 ? "" : html`<p>${bulk}</p>`}
${jobs}`;
  return page(ctx, `${name} · ${state}`, "queues", body);
}
