/** The modes of a benchmark series (`bench/series.ts`): telemetry set-ups as `run-one` options. */
import { UsageError } from "./args.js";
import { TELEMETRY_MODES } from "./telemetry.js";

/** One mode of the series: its label and the `run-one` options it adds. */
export interface SeriesMode {
  label: string;
  args: string[];
}

/**
 * `--modes` items like `off`, `metrics`, `traces:0.01:parent`, checked. A
 * suffix `@tag` runs a set-up again under a label of its own (`off,off@2`:
 * an A/A series); each label must be unique.
 */
export function parseSeriesModes(raw: string): SeriesMode[] {
  const modes = raw.split(",").map((label) => {
    const [spec = "", tag, ...extra] = label.split("@");
    const [telemetry, ratio, parent, ...rest] = spec.split(":");
    const sample = ratio === undefined ? undefined : Number(ratio);
    if (
      !TELEMETRY_MODES.some((m) => m === telemetry) ||
      (sample !== undefined && !(sample >= 0 && sample <= 1)) ||
      (parent !== undefined && parent !== "parent") ||
      rest.length > 0 ||
      tag === "" ||
      extra.length > 0
    )
      throw new UsageError(
        `Expected \`--modes\` items like off, metrics, traces:0.01:parent, off@2, got "${label}"`,
      );
    const args = [`--telemetry=${telemetry}`];
    if (sample !== undefined) args.push(`--trace-sample=${sample}`);
    if (parent !== undefined) args.push("--require-parent");
    return { label, args };
  });
  const seen = new Set<string>();
  for (const { label } of modes) {
    if (seen.has(label))
      throw new UsageError(
        `Expected \`--modes\` to name each mode once (add @tag to run one again, e.g. off,off@2), got "${label}" twice`,
      );
    seen.add(label);
  }
  return modes;
}
