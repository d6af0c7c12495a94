/** Flows the flow and jobId tests build: shapes only, no queue. */
import type { FlowJob } from "../../src/queue/flows.js";

/** A root with `parents` parents of `children` children each: 1 + parents × (1 + children) jobs. */
export function bigFlow(parents: number, children: number, rootJobId?: string): FlowJob {
  return {
    queue: "root",
    payload: "r",
    ...(rootJobId === undefined ? {} : { options: { jobId: rootJobId } }),
    children: Array.from({ length: parents }, (_, p) => ({
      queue: "mid",
      payload: `m${p}`,
      children: Array.from({ length: children }, (_, c) => ({
        queue: "leaf",
        payload: `l${p}.${c}`,
      })),
    })),
  };
}

/** A flow of `children` leaves under a root holding `jobId`; a bad queue name on the last leaf fails it once its check reaches it. */
export function flowOf(jobId: string, children: number, fails = false): FlowJob {
  return {
    queue: "root",
    payload: "r",
    options: { jobId },
    children: Array.from({ length: children }, (_, i) => ({
      queue: fails && i === children - 1 ? (42 as unknown as string) : "leaf",
      payload: `l${i}`,
    })),
  };
}
