/**
 * The schedules page: every durable schedule (cron or interval) with its
 * queue, what it enqueues, the newest fire accounted for and the next run.
 */
import type { ScheduleInfo } from "../../queue/schedules/types.js";
import { duration, relative, time } from "../format.js";
import { html, type SafeHtml } from "../html.js";
import type { DashboardSource } from "../source.js";
import { bytesPreview, type PageContext, page, queueLink } from "./layout.js";

function when(schedule: ScheduleInfo): SafeHtml {
  if (schedule.cron !== undefined)
    return html`<code>${schedule.cron}</code> <span class="muted">${schedule.timezone}</span>`;
  return html`every ${duration(schedule.everyMs ?? 0)}`;
}

function nextRun(ctx: PageContext, schedule: ScheduleInfo): SafeHtml {
  // Not ended: its fire times cannot be computed here (a time zone unknown to this runtime).
  if (schedule.error !== undefined)
    return html`<span class="failed">not fired here: <code>${schedule.error}</code></span>`;
  if (schedule.nextRunAt === null) return html`<span class="muted">never (ended)</span>`;
  return html`${time(schedule.nextRunAt)} <span class="muted">(${relative(schedule.nextRunAt, ctx.now)})</span>`;
}

export async function schedulesPage(ctx: PageContext, source: DashboardSource): Promise<string> {
  const schedules = await source.schedules();
  const rows = schedules.map(
    (
      s,
    ) => html`<tr data-schedule="${s.name}"><td><code>${s.name}</code></td><td>${queueLink(ctx, s.queue)}</td>
<td>${when(s)}</td><td class="next">${nextRun(ctx, s)}</td>
<td>${time(s.firedUpTo)} <span class="muted">(${relative(s.firedUpTo, ctx.now)})</span></td>
<td>${s.catchUp}</td><td>${s.endAt === undefined ? html`<span class="muted">—</span>` : time(s.endAt)}</td>
<td>${bytesPreview(s.payload, false)}</td></tr>`,
  );
  const body = html`<h1>Schedules</h1>
${
  schedules.length === 0
    ? html`<p class="muted" id="no-schedules">No schedules. <code>queue.schedule(name, spec)</code> adds one.</p>`
    : html`<table id="schedules"><thead><tr><th>name</th><th>queue</th><th>when</th><th>next run</th><th>fired up to</th><th>catch-up</th><th>ends</th><th>payload</th></tr></thead><tbody>${rows}</tbody></table>`
}`;
  return page(ctx, "Schedules", "schedules", body);
}
