/**
 * Flows whose outcome is in doubt: a store fault on the write that commits
 * them (it lands and then fails in doubt, or fails in doubt before it
 * lands), a crash, a fence or a close before their answer. Once a later
 * process opened the store, each is whole or absent, never in part: its
 * jobs are found by their ids (the caller's) or by their payloads (the
 * library's ids).
 */
import { StorageError } from "../../../src/errors.js";
import { decodePayloadObject } from "../../../src/queue/payload-object.js";
import { rows } from "../../queue/state-rows.js";
import { liveState } from "./audit.js";
import type { World } from "./sim.js";
import {
  buildFlow,
  callFlow,
  type FlowPlan,
  type FlowSetting,
  type PlannedJob,
} from "./sim-flows.js";

/** What the in-doubt flow step needs beyond a flow step. */
export interface DoubtSetting extends FlowSetting {
  /** Lets what is in flight become durable; false if the queue closed. */
  quiesce: () => Promise<boolean>;
  /** Kills the process and opens a new one (which resolves the flows in doubt). */
  crash: () => Promise<void>;
}

/**
 * A small flow (the caller's ids or the library's) whose commit write is
 * in flight when its process dies: held after it landed (`landed`: the
 * flow must come back whole) or before, and then refused (absent); then a
 * new process opens the store. Nothing else is in flight when it starts,
 * so the first log write after it is called is the flow's.
 */
export async function doubtfulFlowStep(
  w: World,
  setting: DoubtSetting,
  landed: boolean,
): Promise<void> {
  if (!(await setting.quiesce())) return;
  const built = buildFlow(w, setting.queues, { own: w.int(2) === 0, wide: 0, offload: true });
  const wal = `${setting.path}/wal/`;
  const held = w.faults.pause({ op: "put", keyPrefix: wal, mode: landed ? "after" : "before" });
  w.report.doubtfulFlows++;
  if (callFlow(w, built))
    for (let ms = 0; ms < 400 && held.held() === 0 && !w.queue!.closed; ms++) await w.pass(1);
  w.process!.kill();
  // Held before they landed: the dead process's writes never land.
  const stuck = landed ? 0 : held.held();
  const refuse =
    stuck === 0
      ? () => {}
      : w.faults.addRule({
          op: "put",
          keyPrefix: wal,
          mode: "before",
          times: stuck,
          error: () => new StorageError("simulated write of a dead process", { permanent: true }),
        });
  held.release();
  await w.pass(1);
  refuse();
  await setting.crash();
}

/**
 * A new process opened the store: every flow called by an earlier one
 * whose outcome is not known is there whole or not at all. A job a removal
 * was attempted on may be gone either way; a job handed out by a durable
 * claim says the flow committed.
 */
export async function resolveFlowsInDoubt(w: World): Promise<void> {
  const left: FlowPlan[] = [];
  let byPayload: Map<string, string> | null = null;
  for (const plan of w.flowPlans) {
    if (plan.outcome !== "called") continue;
    if (plan.generation >= w.generation) {
      left.push(plan);
      continue;
    }
    if (plan.own) {
      resolve(w, plan, ownIds(w, plan));
      continue;
    }
    byPayload ??= await idsByPayload(w);
    const found = new Map<string, string>();
    for (const [name, job] of plan.jobs) {
      const id = byPayload.get(job.payload);
      if (id !== undefined) found.set(name, id);
    }
    resolve(w, plan, found);
  }
  w.flowPlans.length = 0;
  w.flowPlans.push(...left);
}

/** An own-id flow's jobs that are there (or were handed out), by name (= id). */
function ownIds(w: World, plan: FlowPlan): Map<string, string> {
  const state = liveState(w.queue!);
  const found = new Map<string, string>();
  for (const id of plan.jobs.keys())
    if (id !== plan.collision && (state.findPublic(id) !== -1 || w.model.everDelivered.has(id)))
      found.set(id, id);
  return found;
}

/** The public id of every live job by its payload (offloaded ones read from the store). */
async function idsByPayload(w: World): Promise<Map<string, string>> {
  const state = liveState(w.queue!);
  const ids = new Map<string, string>();
  for (const row of rows(state)) {
    let payload = row.payload;
    if (row.payloadRef !== undefined) {
      const object = await w.memory.get(row.payloadRef.key);
      const { key, size } = row.payloadRef;
      payload =
        object === null ? "" : Buffer.from(decodePayloadObject(key, object.body, size)).toString();
    }
    ids.set(payload, state.publicIdOf(row.h));
  }
  return ids;
}

/** `found`: the plan's jobs there, by name to public id. */
function resolve(w: World, plan: FlowPlan, found: Map<string, string>): void {
  const names = [...plan.jobs.keys()].filter((name) => name !== plan.collision);
  if (found.size === 0) {
    plan.outcome = "absent";
    w.report.flowsInDoubtAbsent++;
    if (plan.own) for (const id of names) w.model.neverJobs.add(id);
    return;
  }
  plan.outcome = "whole";
  w.report.flowsInDoubtWhole++;
  // An own id a removal was attempted on may be gone; the library's ids were never known.
  const missing = names.filter(
    (name) => !found.has(name) && !(plan.own && w.model.removalAttempted.has(name)),
  );
  if (missing.length > 0)
    w.violations.push(
      `flow ${plan.tag}${plan.own ? "" : " (the library's ids)"} is there in part after a reopen: ${found.size} of ${names.length} jobs, ${missing.join(", ")} missing`,
    );
  if (plan.collision !== null && !w.model.removalAttempted.has(plan.collision))
    w.violations.push(`flow ${plan.tag} committed with the id ${plan.collision} of a live job`);
  if (plan.collision !== null) w.model.idReused(plan.collision);
  const jobs = new Map<string, PlannedJob>();
  for (const [name, job] of plan.jobs) {
    const id = found.get(name);
    if (id === undefined) continue;
    const parent = job.parent === null ? null : (found.get(job.parent) ?? job.parent);
    jobs.set(id, { parent, payload: job.payload });
  }
  w.model.flows.add(jobs);
  for (const id of jobs.keys()) w.model.enqueued(id);
}
