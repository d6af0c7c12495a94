import { type Args, closest, UsageError } from "../lib/args.js";
import type { BenchResult } from "../lib/result.js";
import { STORE_KINDS } from "../lib/stores.js";
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
import { txnStalls } from "./txn-stalls.js";

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
  runnable(txnStalls),
];

export function findWorkload(name: string): RunnableWorkload | undefined {
  return WORKLOADS.find((w) => w.name === name);
}

/**
 * What `run-one.js <name> --store=… [--param=value …]` runs, not started yet: the
 * workload and every flag are checked first (a `UsageError` names what is wrong).
 */
export function prepareRunOne(name: string | undefined, args: Args): () => Promise<BenchResult[]> {
  const names = WORKLOADS.map((w) => w.name);
  const workload = name === undefined ? undefined : findWorkload(name);
  if (workload === undefined) {
    const close = name === undefined ? undefined : closest(name, names);
    throw new UsageError(
      `Expected the workload to be one of ${names.join(", ")}, got \`${name ?? ""}\`` +
        (close === undefined ? "" : ` (did you mean \`${close}\`?)`),
    );
  }
  const store = args.oneOf("store", STORE_KINDS, "memory");
  return workload.prepare(store, args);
}
