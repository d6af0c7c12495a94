/** The modes of a benchmark series (`bench/series.ts`): telemetry set-ups as `run-one` options. */
import { TELEMETRY_MODES } from "./telemetry.js";

/** One mode of the series: its label and the `run-one` options it adds. */
export interface SeriesMode {
  label: string;
  args: string[];
}

/** `--modes` items like `off`, `metrics`, `traces:0.01:parent`, checked. */
export function parseSeriesModes(raw: string): SeriesMode[] {
  return raw.split(",").map((label) => {
    const [telemetry, ratio, parent, ...rest] = label.split(":");
    const sample = ratio === undefined ? undefined : Number(ratio);
    if (
      !TELEMETRY_MODES.some((m) => m === telemetry) ||
      (sample !== undefined && !(sample >= 0 && sample <= 1)) ||
      (parent !== undefined && parent !== "parent") ||
      rest.length > 0
    )
      throw new Error(
        `Expected \`--modes\` items like off, metrics, traces:0.01:parent, got "${label}"`,
      );
    const args = [`--telemetry=${telemetry}`];
    if (sample !== undefined) args.push(`--trace-sample=${sample}`);
    if (parent !== undefined) args.push("--require-parent");
    return { label, args };
  });
}
