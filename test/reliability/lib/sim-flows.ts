/**
 * Flows in the deterministic simulation: small flows (a root, a few
 * children, sometimes grandchildren) in random queues, their payloads
 * offloaded or not, most with the caller's ids on every job and some of
 * those with one id a live job holds (refused whole with
 * `DuplicateJobIdError`). An acknowledged flow's jobs exist with their
 * payloads until something removes them; a refused one leaves none of its
 * jobs; one whose outcome is in doubt is whole or absent once a later
 * process opened the store, never in part (sim-flow-doubt.ts).
 */
import { StorageError, TaqubaError } from "../../../src/errors.js";
import type { FlowJob, FlowResult } from "../../../src/queue/flows.js";
import { enqueueWithStoredRefusedPut } from "../../queue/orphan-setup.js";
import type { World } from "./sim.js";

/** A flow job as planned: its parent's name (the root's is null) and its payload. */
export interface PlannedJob {
  parent: string | null;
  payload: string;
}

/** A flow called and not yet acknowledged or refused. */
export interface FlowPlan {
  tag: string;
  /** Whether every job has the caller's id (its name); else the library's ids. */
  own: boolean;
  /** The process (counted from the first open) that called `enqueueFlow`. */
  generation: number;
  /** Each job by its name (the id asked for, when `own`). */
  jobs: Map<string, PlannedJob>;
  /** A live job's id one of the flow's jobs was given (the flow must be refused), or null. */
  collision: string | null;
  /** Called; acknowledged or refused; or found whole or absent after a reopen. */
  outcome: "called" | "settled" | "whole" | "absent";
}

/** What a flow step needs of the simulation beside its world. */
export interface FlowSetting {
  queues: readonly string[];
  /** The queue's store path. */
  path: string;
  /** A payload over the offload threshold on every seed. */
  bigPayload: string;
  /** The process stands still for longer than the orphans' minimum age. */
  freeze: () => Promise<void>;
}

/** How a flow is built. */
interface Shape {
  own: boolean;
  /** Children of a wide root (0: a small flow). */
  wide: number;
  /** Whether payloads may be over the offload threshold. */
  offload: boolean;
}

/** A flow to call, with its plan. */
export interface BuiltFlow {
  flow: FlowJob;
  plan: FlowPlan;
  offloaded: boolean;
}

/**
 * Builds a random flow: a root with 1–4 children (or `wide` of them), some
 * with 1–2 of their own; a third of the payloads (a wide flow's root and
 * few others) over the offload threshold, unique, so a wrong object cannot
 * pass for one.
 */
export function buildFlow(w: World, queues: readonly string[], shape: Shape): BuiltFlow {
  const tag = `${w.report.steps}-${w.int(1_000_000)}`;
  const jobs = new Map<string, PlannedJob>();
  let offloaded = false;
  const job = (path: string, parent: string | null, depth: number): FlowJob => {
    const name = `f${tag}-${path}`;
    // A wide flow offloads its root's payload and few others: a fault on any of its writes
    // after the freeze fails it (past the retry budget), and it should mostly commit.
    const big = shape.offload && (shape.wide > 0 ? depth === 0 || w.int(20) === 0 : w.int(3) === 0);
    offloaded ||= big;
    const payload = big ? `${name}:`.padEnd(w.offloadBytes + 1 + w.int(w.offloadBytes), "y") : name;
    const kids = childCount(w, shape.wide, depth);
    const children = Array.from({ length: kids }, (_, i) => job(`${path}${i}`, name, depth + 1));
    jobs.set(name, { parent, payload });
    const options = {
      priority: w.pick([100, 1_000, 10_000])!,
      maxAttempts: 1 + w.int(3),
      ...(shape.own ? { jobId: name } : {}),
      ...(kids === 0 && w.int(4) === 0 ? { delayMs: w.int(300) } : {}),
    };
    return { queue: w.pick(queues)!, payload, options, ...(kids > 0 ? { children } : {}) };
  };
  const flow = job("r", null, 0);
  const plan: FlowPlan = {
    tag,
    own: shape.own,
    generation: w.generation,
    jobs,
    collision: null,
    outcome: "called",
  };
  return { flow, plan, offloaded };
}

function childCount(w: World, wide: number, depth: number): number {
  if (depth === 0) return wide || 1 + w.int(4);
  return depth === 1 && wide === 0 && w.int(4) === 0 ? 1 + w.int(2) : 0;
}

/**
 * Gives one job of an own-id flow the id of a job that exists (acknowledged,
 * no removal attempted), if there is one: the flow must be refused whole.
 */
function collide(w: World, built: BuiltFlow): void {
  const { plan } = built;
  const collision = w.pick([...w.model.mustExist].filter((id) => /^[tjf]/.test(id)));
  if (collision === undefined) return;
  const victim = w.pick([...plan.jobs.keys()])!;
  renameJob(built.flow, victim, collision);
  const entry = plan.jobs.get(victim)!;
  plan.jobs.delete(victim);
  // The victim's children still name it as their parent: the tree is checked by ids.
  plan.jobs.set(collision, entry);
  for (const job of plan.jobs.values()) if (job.parent === victim) job.parent = collision;
  plan.collision = collision;
}

function renameJob(job: FlowJob, from: string, to: string): void {
  if (job.options?.jobId === from) job.options = { ...job.options, jobId: to };
  for (const child of job.children ?? []) renameJob(child, from, to);
}

/**
 * Calls `enqueueFlow` without waiting for it (as `track` does), its plan
 * kept until a reopen resolves it if no answer comes; false if the call
 * threw.
 */
export function callFlow(w: World, built: BuiltFlow): boolean {
  const { flow, plan } = built;
  w.flowPlans.push(plan);
  const seq = w.model.nextSeq();
  let called: Promise<FlowResult>;
  try {
    called = w.queue!.enqueueFlow(flow);
  } catch (error) {
    w.unexpected("enqueueFlow", error);
    return false;
  }
  called.then(
    (result) => {
      w.model.durableBefore(seq);
      acknowledged(w, built, result);
    },
    (error: unknown) => refused(w, built, error),
  );
  return true;
}

/** The flow was acknowledged: its tree has the ids asked for, and the model knows its jobs. */
function acknowledged(w: World, { flow, plan, offloaded }: BuiltFlow, result: FlowResult): void {
  w.report.flows++;
  if (offloaded) w.report.offloadedFlows++;
  const { collision, tag } = plan;
  if (collision !== null && !w.model.removalAttempted.has(collision))
    w.violations.push(`flow ${tag} committed with the id ${collision} of a live job`);
  if (plan.outcome === "absent")
    w.violations.push(`flow ${tag} was acknowledged after a reopen found none of it`);
  const byId = new Map<string, PlannedJob>();
  collectIds(w, tag, flow, result, null, byId);
  w.report.enqueued += byId.size;
  byId.delete(collision ?? "");
  if (collision !== null) w.model.idReused(collision);
  w.model.flows.add(byId);
  for (const id of byId.keys()) w.model.enqueued(id);
  plan.outcome = "settled";
}

function collectIds(
  w: World,
  tag: string,
  job: FlowJob,
  got: FlowResult,
  parent: string | null,
  byId: Map<string, PlannedJob>,
): void {
  const asked = job.options?.jobId;
  if (asked !== undefined && got.id !== asked)
    w.violations.push(`flow ${tag} gave its job ${asked} the id ${got.id}`);
  byId.set(got.id, { parent, payload: String(job.payload) });
  for (const [i, child] of (job.children ?? []).entries())
    collectIds(w, tag, child, got.children[i]!, got.id, byId);
}

/** The flow was rejected: refused whole for its collision, or failed (its outcome in doubt). */
function refused(w: World, { plan }: BuiltFlow, error: unknown): void {
  if (!(error instanceof TaqubaError && error.code === "DUPLICATE_JOB_ID")) {
    w.unexpected("enqueueFlow", error);
    return;
  }
  w.report.refusedFlows++;
  if (plan.collision === null) w.violations.push(`flow ${plan.tag} was refused: ${String(error)}`);
  if (plan.outcome === "whole")
    w.violations.push(`flow ${plan.tag} was refused after a reopen found it committed`);
  plan.outcome = "settled";
  for (const id of plan.jobs.keys()) if (id !== plan.collision) w.model.neverJobs.add(id);
}

/**
 * One flow; a wide one (a root with a few dozen children) now and then, or
 * when `wide` (once per seed, at a step drawn from the seed).
 */
export async function flowStep(w: World, setting: FlowSetting, wide = false): Promise<void> {
  const own = w.int(3) !== 0;
  const width = wide || w.int(8) === 0 ? 20 + w.int(40) : 0;
  const built = buildFlow(w, setting.queues, { own, wide: width, offload: true });
  if (own && w.int(4) === 0) collide(w, built);
  if (width === 0) {
    callFlow(w, built);
    return;
  }
  await wideFlow(w, setting, built);
}

/**
 * A wide flow right after an enqueue whose payload object is stored but
 * whose write is refused (an orphan the queue knows of, so a pass is due
 * once it is old enough); then the process freezes while the flow has
 * written its objects and not yet committed (their writes held), and that
 * pass runs beside it: it must spare the flow's objects.
 */
async function wideFlow(w: World, setting: FlowSetting, built: BuiltFlow): Promise<void> {
  const payloads = `${setting.path}/payload/`;
  const refused = enqueueWithStoredRefusedPut(w.faults, w.queue!, {
    keyPrefix: payloads,
    queue: w.pick(setting.queues)!,
    payload: setting.bigPayload,
    error: () => new StorageError("simulated refusal of a stored payload", { permanent: true }),
  });
  refused.enqueued.then(
    (id) => w.model.enqueued(id),
    (error: unknown) => w.unexpected("enqueue", error),
  );
  await w.pass(4);
  // The flow's objects land, but their writes do not answer until after the pass.
  const held = w.faults.pause({ op: "put", keyPrefix: payloads, mode: "after" });
  if (!callFlow(w, built)) {
    held.release();
    refused.unfail();
    return;
  }
  w.report.wideFlows++;
  await w.pass(1 + w.int(4));
  await setting.freeze();
  await w.pass(40);
  held.release();
  refused.unfail();
}

/**
 * Whether `bytes` is the payload job `id` was given, where it is offloaded or
 * a flow's: a flow's known to the model; else the plain jobs' big payload,
 * or a big payload of a flow with the library's ids still in doubt (its
 * jobs handed out before its answer came, or never answered).
 */
export function rightPayload(w: World, id: string, bytes: string, bigPayload: string): boolean {
  const flows = w.model.flows.payloads.get(id);
  if (flows !== undefined) return bytes === flows;
  if (bytes === bigPayload) return true;
  return w.flowPlans.some(
    (plan) =>
      !plan.own &&
      plan.outcome === "called" &&
      bytes.startsWith(`f${plan.tag}-`) &&
      [...plan.jobs.values()].some((job) => job.payload === bytes),
  );
}
