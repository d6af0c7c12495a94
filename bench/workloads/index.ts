import { type RunnableWorkload, runnable } from "../lib/workload.js";
import { cancelCost } from "./cancel-cost.js";
import { cancelledSlices } from "./cancelled-slices.js";
import { ceiling } from "./ceiling.js";
import { claimBatch } from "./claim-batch.js";
import { claimDrain } from "./claim-drain.js";
import { coldStart } from "./cold-start.js";
import { endToEnd } from "./end-to-end.js";
import { fairGroups } from "./fair-groups.js";
import { flowAdmin } from "./flow-admin.js";
import { kvSlices } from "./kv-slices.js";
import { opSlices } from "./op-slices.js";
import { payloadOffload } from "./payload-offload.js";
import { payloadSweep } from "./payload-sweep.js";
import { rateLimit } from "./rate-limit.js";
import { schedules } from "./schedules.js";
import { singleEnqueue } from "./single-enqueue.js";
import { spanCost } from "./span-cost.js";
import { stalls } from "./stalls.js";
import { steadyState } from "./steady-state.js";
import { telemetryOverhead } from "./telemetry-overhead.js";
import { transactions } from "./transactions.js";

/** Every taquba workload, by name. */
export const WORKLOADS: readonly RunnableWorkload[] = [
  runnable(claimDrain),
  runnable(claimBatch),
  runnable(steadyState),
  runnable(ceiling),
  runnable(coldStart),
  runnable(payloadSweep),
  runnable(payloadOffload),
  runnable(endToEnd),
  runnable(singleEnqueue),
  runnable(spanCost),
  runnable(telemetryOverhead),
  runnable(stalls),
  runnable(opSlices),
  runnable(rateLimit),
  runnable(fairGroups),
  runnable(schedules),
  runnable(transactions),
  runnable(kvSlices),
  runnable(cancelledSlices),
  runnable(flowAdmin),
  runnable(cancelCost),
];

export function findWorkload(name: string): RunnableWorkload | undefined {
  return WORKLOADS.find((w) => w.name === name);
}
