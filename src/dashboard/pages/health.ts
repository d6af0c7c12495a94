/**
 * Store health: writer epoch, heartbeat, WAL backlog, checkpoint age, and
 * the store requests made with their estimated cost, by kind.
 */
import { isStaleBeat } from "../../queue/heartbeat.js";
import type { StoreOp } from "../../store/wrappers/ops.js";
import { bytes, duration, money, relative, time } from "../format.js";
import { html, type SafeHtml } from "../html.js";
import type { DashboardSource } from "../source.js";
import type { Health } from "../store-health.js";
import { type PageContext, page } from "./layout.js";

const OPS: readonly StoreOp[] = ["get", "put", "list", "head", "delete"];

function card(id: string, label: string, value: string, note: SafeHtml | string = ""): SafeHtml {
  return html`<div class="card" id="${id}"><span class="muted">${label}</span><b>${value}</b><span class="muted">${note}</span></div>`;
}

function heartbeatCard(h: Health, now: number): SafeHtml {
  const title = "Writer heartbeat";
  if (h.role === "writer")
    return h.stopped
      ? card("heartbeat", title, "stopped", stopNote(h))
      : card("heartbeat", title, "this process", "the dashboard runs in the writer");
  const beat = h.heartbeat;
  if (beat === null)
    return card("heartbeat", title, "none", "the writer does not beat (heartbeatMs unset)");
  const age = Math.max(0, now - beat.at);
  const state = beat.closed
    ? "closed cleanly"
    : isStaleBeat(beat, age)
      ? `stale: no beat for ${duration(age)}, writer gone or stalled`
      : "live";
  return card(
    "heartbeat",
    title,
    relative(beat.at, now),
    `${state}; beat #${beat.counter} of epoch ${beat.epoch}, every ${duration(beat.intervalMs)}`,
  );
}

/** Why a stopped writer stopped, in a few words: closed, fenced, or failed with its error's code. */
function stopNote(h: Health): string {
  const by = h.stoppedBy;
  if (by === null || by === "closed") return "this process's queue is closed";
  if (by.code === "FENCED") return "fenced by another writer (FENCED)";
  return `failed (${by.code})`;
}

/** Why a stopped writer stopped, as a sentence with the error's message (as a 503 page says it). */
function stopSentence(h: Health): string {
  const by = h.stoppedBy;
  if (by === null || by === "closed") return "Stopped: this process's queue is closed.";
  if (by.code === "FENCED")
    return `Stopped: another writer fenced this process's queue (${by.code}: ${by.message}).`;
  return `Stopped: this process's queue failed (${by.code}: ${by.message}).`;
}

/** What the values shown are: a live writer's, a stopped one's last, or a snapshot's. */
function summary(h: Health, now: number): string {
  if (h.role === "reader")
    return `Read-only snapshot taken ${relative(h.snapshotAt, now)}; a running writer is not disturbed.`;
  return h.stopped
    ? `${stopSentence(h)} These are its last values.`
    : "Live: this process owns the store.";
}

export function healthPage(ctx: PageContext, source: DashboardSource): string {
  const h = source.health();
  const heartbeat = heartbeatCard(h, ctx.now);
  const checkpointAge = h.checkpointAt === null ? "none yet" : duration(ctx.now - h.checkpointAt);
  const rows = OPS.map(
    (op) =>
      html`<tr><td>${op}</td><td class="n">${h.requests.counts[op]}</td><td class="n">${money(h.costs[op])}</td></tr>`,
  );
  const body = html`<h1>Store health</h1>
<p class="muted">${summary(h, ctx.now)}</p>
<div class="grid">
${card("epoch", "Writer epoch", h.epoch === null ? "—" : String(h.epoch), "writers that opened the store")}
${heartbeat}
${card("wal-backlog", "WAL backlog", h.walBacklogBytes === null ? "—" : bytes(h.walBacklogBytes), h.walBacklogObjects === null ? "replayed on reopen" : `${h.walBacklogObjects} objects replayed on reopen`)}
${card("checkpoint-age", "Checkpoint age", checkpointAge, h.checkpointAt === null ? "" : time(h.checkpointAt))}
${card("requests", "Store requests", String(h.requests.requests), `${bytes(h.requests.bytesWritten)} written, ${bytes(h.requests.bytesRead)} read`)}
${card("cost", "Estimated request cost", money(h.cost), h.role === "writer" ? "since this queue opened" : "of this dashboard's reads")}
</div>
<h2>Requests by kind</h2>
<table id="requests"><thead><tr><th>kind</th><th class="n">requests</th><th class="n">estimated cost</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Details</h2>
<dl>${h.details.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
  return page(ctx, "Store health", "health", body);
}
