/**
 * One job: every field, the payload, headers, result and progress, and its
 * attempt history; requeue or remove (dead), remove (done) or cancel
 * (waiting or running) when the dashboard has a live queue.
 */
import type { JobAttempt } from "../../queue/types.js";
import { childCount, json, relative, time } from "../format.js";
import { html, type SafeHtml } from "../html.js";
import type { DashboardSource } from "../source.js";
import {
  actionForm,
  bytesPreview,
  href,
  type PageContext,
  page,
  queueLink,
  statusBadge,
} from "./layout.js";

function row(label: string, value: SafeHtml | string | number | undefined): SafeHtml {
  return value === undefined ? html`` : html`<dt>${label}</dt><dd>${value}</dd>`;
}

function at(ctx: PageContext, ms: number | undefined): SafeHtml | undefined {
  return ms === undefined
    ? undefined
    : html`${time(ms)} <span class="muted">(${relative(ms, ctx.now)})</span>`;
}

function attemptsTable(ctx: PageContext, attempts: JobAttempt[]): SafeHtml {
  if (attempts.length === 0) return html`<p class="muted">No attempts yet.</p>`;
  return html`<table id="attempts"><thead><tr><th class="n">#</th><th>claimed</th><th>recorded</th><th>outcome</th><th>error</th></tr></thead><tbody>${attempts.map(
    (a) =>
      html`<tr><td class="n">${a.attempt}</td><td>${time(a.claimedAt)}</td><td>${time(a.recordedAt)} <span class="muted">(${relative(a.recordedAt, ctx.now)})</span></td><td>${statusBadge(a.outcome)}</td><td>${a.error === undefined ? "" : html`<code>${a.error}</code>`}</td></tr>`,
  )}</tbody></table>`;
}

export async function jobPage(
  ctx: PageContext,
  source: DashboardSource,
  id: string,
): Promise<{ status: number; body: string }> {
  const job = await source.getJob(id);
  if (job === null) {
    const body = html`<h1>Job not found</h1><p>No job <code>${id}</code> in this store: it never existed, or it is gone (acked without being kept, or removed).</p>`;
    return { status: 404, body: page(ctx, "Job not found", "queues", body) };
  }
  const attempts = await source.attempts(id);
  const headers = Object.entries(job.headers);
  // An action that ends the job returns to its queue: this page would answer 404 once it is gone.
  const toQueue: PageContext = {
    ...ctx,
    self: href(ctx, "/queue", { name: job.queue, state: job.status }),
  };
  const remove = actionForm(toQueue, "remove", { id: job.id }, "Remove", { danger: true });
  const actions =
    job.status === "dead"
      ? html`${actionForm(ctx, "requeue", { id: job.id }, "Requeue")}${remove}`
      : job.status === "done"
        ? remove
        : // A running job's cancel only asks its handler to stop: it stays here.
          actionForm(job.status === "claimed" ? ctx : toQueue, "cancel", { id: job.id }, "Cancel", {
            danger: true,
          });
  const body = html`<p class="muted"><a href="${`${ctx.base}/`}">Queues</a> / ${queueLink(ctx, job.queue, job.status)} /</p>
<h1>Job <code>${job.id}</code> ${statusBadge(job.status)}</h1>
${ctx.writable ? html`<p>${actions}</p>` : ""}
<dl id="job">
${row("Queue", queueLink(ctx, job.queue))}
${row("Status", statusBadge(job.status))}
${row("Attempts", `${job.attempts} of ${job.maxAttempts}`)}
${row("Priority", job.priority)}
${row("Enqueued", at(ctx, job.enqueuedAt))}
${row("Runs at", at(ctx, job.runAt))}
${row("Waits for", job.waitingChildren === undefined ? undefined : `its ${childCount(job.waitingChildren)} (a flow parent runs once each has ended)`)}
${row("Claimed", at(ctx, job.claimedAt))}
${row("Lease expires", at(ctx, job.leaseExpiresAt))}
${row("Completed", at(ctx, job.completedAt))}
${row("Failed", at(ctx, job.failedAt))}
${row("Timeout", job.timeoutMs === undefined ? undefined : `${job.timeoutMs} ms`)}
${row("Dedup key", job.dedupKey === undefined ? undefined : html`<code>${job.dedupKey}</code>`)}
${row("Last error", job.lastError === undefined ? undefined : html`<code>${job.lastError}</code>`)}
${row("Progress", job.progress === undefined ? undefined : html`<code id="progress">${json(job.progress, 2_000)}</code>`)}
</dl>
<h2>Payload</h2>
${job.payloadError === undefined ? bytesPreview(job.payload, true) : html`<p class="failed" id="payload-error">Unreadable: <code>${job.payloadError}</code></p>`}
<h2>Headers</h2>
${
  headers.length === 0
    ? html`<p class="muted">No headers.</p>`
    : html`<table id="headers"><tbody>${headers.map(([k, v]) => html`<tr><td><code>${k}</code></td><td><code>${v}</code></td></tr>`)}</tbody></table>`
}
<h2>Result</h2>
${job.result === undefined ? html`<p class="muted">No result.</p>` : bytesPreview(job.result, true)}
<h2>Attempt history</h2>
${attemptsTable(ctx, attempts)}`;
  return { status: 200, body: page(ctx, `Job ${job.id}`, "queues", body) };
}
