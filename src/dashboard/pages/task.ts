/**
 * A bulk action's page: while it runs, how many jobs it has done of how many
 * (a `<progress>` bar; the page reloads itself every second, no script),
 * then its outcome and the way back to the queue.
 */
import { html } from "../html.js";
import type { BulkTask } from "../tasks.js";
import { href, type PageContext, page } from "./layout.js";

export function taskPage(ctx: PageContext, task: BulkTask): string {
  const running = task.state === "running";
  const max = Math.max(task.total, task.done);
  const status = running
    ? html`<p id="task-progress" role="status"><progress value="${task.done}" max="${max}">${task.done} of ${max}</progress> ${task.done} of ${max} jobs done…</p>`
    : html`<div id="task-outcome" class="notice${task.state === "failed" ? " failed" : ""}" role="status">${task.outcome ?? ""}</div>`;
  const body = html`<p class="muted"><a href="${href(ctx, "/")}">Queues</a> / <a href="${href(ctx, "/queue", { name: task.queue })}">${task.queue}</a> /</p>
<h1>${task.label}</h1>
${status}
<p><a id="task-back" href="${href(ctx, "/queue", { name: task.queue, state: "dead" })}">Back to the dead jobs of ${task.queue}</a></p>`;
  return page({ ...ctx, refreshSeconds: running ? 1 : 0 }, task.label, "queues", body);
}
