/**
 * The throughput chart as inline SVG, rendered on the server: stacked bars of
 * completed and failed jobs per time bucket, a line of enqueued jobs and a
 * line of pending depth. Every bar has a title, so hovering shows its numbers
 * without any script. A read-only dashboard knows completions only (from the
 * growth of each queue's done counter): its chart has no failed or enqueued
 * series rather than zeros it cannot vouch for.
 */
import type { Series } from "./history.js";
import { html, type SafeHtml } from "./html.js";

const WIDTH = 720;
const HEIGHT = 170;
const LEFT = 44;
const RIGHT = 44;
const TOP = 10;
const BOTTOM = 22;

function niceMax(value: number): number {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function fixed(n: number): string {
  return n.toFixed(1);
}

function minutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}

/**
 * The chart of `series`; `label` names it for screen readers. With
 * `completionsOnly` (a reader's series) only completions and pending depth
 * are drawn, in the bars, their titles and the legend.
 */
export function throughputChart(series: Series, label: string, completionsOnly: boolean): SafeHtml {
  const { buckets, bucketMs } = series;
  const n = buckets.length;
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const rate = Math.max(1, ...buckets.map((b) => Math.max(b.completed + b.failed, b.enqueued)));
  const max = niceMax(rate);
  // Pending depth has its own scale (right axis): a backlog dwarfs per-minute rates.
  const depthMax = niceMax(Math.max(1, ...buckets.map((b) => b.depth?.pending ?? 0)));
  const slot = plotW / n;
  const y = (v: number): number => TOP + plotH - (v / max) * plotH;
  const bars = buckets.map((b, i) => {
    const x = LEFT + i * slot + 1;
    const w = Math.max(1, slot - 2);
    const doneTop = y(b.completed);
    const failTop = y(b.completed + b.failed);
    const when = new Date(b.start).toISOString().slice(11, 19);
    const counted = completionsOnly
      ? `${b.completed} completed`
      : `${b.completed} completed, ${b.failed} failed, ${b.enqueued} enqueued`;
    const title = `${when} UTC: ${counted}${b.depth === undefined ? "" : `, ${b.depth.pending} pending`}`;
    const done = html`<rect x="${fixed(x)}" y="${fixed(doneTop)}" width="${fixed(w)}" height="${fixed(TOP + plotH - doneTop)}" class="c-done"/>`;
    return completionsOnly
      ? html`<g><title>${title}</title>${done}</g>`
      : html`<g><title>${title}</title>${done}<rect x="${fixed(x)}" y="${fixed(failTop)}" width="${fixed(w)}" height="${fixed(doneTop - failTop)}" class="c-fail"/></g>`;
  });
  const yDepth = (v: number): number => TOP + plotH - (v / depthMax) * plotH;
  const line = (values: (number | undefined)[], cls: string, scale = y): SafeHtml => {
    const points: string[] = [];
    values.forEach((v, i) => {
      if (v !== undefined) points.push(`${fixed(LEFT + (i + 0.5) * slot)},${fixed(scale(v))}`);
    });
    return points.length === 0
      ? html``
      : html`<polyline points="${points.join(" ")}" class="${cls}" fill="none"/>`;
  };
  const grid = [0, 0.5, 1].map(
    (f) =>
      html`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${fixed(y(max * f))}" y2="${fixed(y(max * f))}" class="c-grid"/><text x="${LEFT - 4}" y="${fixed(y(max * f) + 4)}" text-anchor="end">${max * f}</text><text x="${WIDTH - RIGHT + 4}" y="${fixed(y(max * f) + 4)}" class="c-axis-pending">${depthMax * f}</text>`,
  );
  const enqueuedLine = completionsOnly
    ? html``
    : line(
        buckets.map((b) => b.enqueued),
        "c-enq",
      );
  const pendingLine = line(
    buckets.map((b) => b.depth?.pending),
    "c-pending",
    yDepth,
  );
  return html`<figure class="chart"><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" role="img" aria-label="${label}" xmlns="http://www.w3.org/2000/svg">
${grid}${bars}${enqueuedLine}${pendingLine}
<text x="${LEFT}" y="${HEIGHT - 6}">−${minutes(n * bucketMs)}</text><text x="${WIDTH - RIGHT}" y="${HEIGHT - 6}" text-anchor="end">now</text>
</svg><figcaption><span class="k k-done"></span>completed ${completionsOnly ? "" : html`<span class="k k-fail"></span>failed (retried or dead) <span class="k k-enq"></span>enqueued `}<span class="k k-pending"></span>pending (right axis) — jobs per ${minutes(bucketMs)}${completionsOnly ? " (read-only: failures and enqueues are not known from snapshots)" : ""}</figcaption></figure>`;
}
