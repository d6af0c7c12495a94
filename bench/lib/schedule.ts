import { InvalidArgumentError } from "../../src/errors.js";

/** One constant-rate segment of an offered-load schedule. */
export interface Segment {
  seconds: number;
  /** Jobs per second offered during the segment. */
  rate: number;
}

/** Parse `"10:500,20:2000"` (seconds:rate pairs). */
export function parseSchedule(raw: string): Segment[] {
  const segments = raw.split(",").map((part) => {
    const [seconds, rate] = part.split(":").map(Number);
    if (
      seconds === undefined ||
      rate === undefined ||
      !(seconds > 0) ||
      !(rate >= 0) ||
      !Number.isFinite(seconds) ||
      !Number.isFinite(rate)
    )
      throw new InvalidArgumentError(
        `bad schedule segment "${part}": expected seconds:rate with seconds > 0 and rate >= 0`,
      );
    return { seconds, rate };
  });
  if (segments.length === 0) throw new InvalidArgumentError("empty schedule");
  return segments;
}

export function formatSchedule(segments: readonly Segment[]): string {
  return segments.map((s) => `${s.seconds}:${s.rate}`).join(",");
}

/**
 * Open-loop arrival times for a schedule: job k is due at a fixed time that
 * does not depend on how fast earlier jobs were served, so latency measured
 * from the due time includes any queueing the system caused (no coordinated
 * omission).
 */
export class ArrivalSchedule {
  readonly #segments: readonly Segment[];
  readonly totalSeconds: number;
  readonly totalJobs: number;

  constructor(segments: readonly Segment[]) {
    this.#segments = segments;
    this.totalSeconds = segments.reduce((sum, s) => sum + s.seconds, 0);
    this.totalJobs = segments.reduce((sum, s) => sum + Math.floor(s.seconds * s.rate), 0);
  }

  /** How many jobs are due by `elapsedMs` since the start. */
  dueBy(elapsedMs: number): number {
    let due = 0;
    let segmentStartMs = 0;
    for (const s of this.#segments) {
      const segmentMs = s.seconds * 1_000;
      const inSegment = Math.min(Math.max(elapsedMs - segmentStartMs, 0), segmentMs);
      due += Math.min(Math.floor((inSegment * s.rate) / 1_000), Math.floor(s.seconds * s.rate));
      segmentStartMs += segmentMs;
    }
    return due;
  }

  /** Due time (ms since the start) of job `index` (0-based). */
  dueAt(index: number): number {
    let before = 0;
    let segmentStartMs = 0;
    for (const s of this.#segments) {
      const jobs = Math.floor(s.seconds * s.rate);
      if (index < before + jobs) return segmentStartMs + ((index - before) * 1_000) / s.rate;
      before += jobs;
      segmentStartMs += s.seconds * 1_000;
    }
    return segmentStartMs;
  }
}
