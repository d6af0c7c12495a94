/**
 * Flows in the deterministic simulation: small flows (a root, a few
 * children, sometimes grandchildren) in random queues, their payloads
 * offloaded or not, most with the caller's ids on every job and some of
 * those with one id a live job holds (refused whole with
 * `DuplicateJobIdError`). An acknowledged flow's jobs exist with their
 * payloads until something removes them; a refused one leaves none of its
 * jobs; one whose outcome is in doubt (a write that failed in doubt, a
 * crash, a fence or a close while it was written, prepared or committed) is
 * whole or absent once a later process opened the store, never in part; a
 * parent is handed out only once its children ended.
 */
import { StorageError, TaqubaError } from "../../../src/errors.js";
import type { FlowJob, FlowResult } from "../../../src/queue/flows.js";
import { type State, Status } from "../../../src/queue/state.js";
import type { PauseHandle } from "../../../src/store/wrappers/fault.js";
import { rowOf, STATUS_NAMES } from "../../queue/state-rows.js";
import { liveState } from "./audit.js";
import type { World } from "./sim.js";

/** A flow whose jobs all have the caller's ids, until its outcome is known. */
export interface FlowPlan {
  tag: string;
  /** The process (counted from the first open) that called `enqueueFlow`. */
  generation: number;
  /** Each job's parent (the root's is null) and payload, by the id the call gave it. */
  jobs: Map<string, { parent: string | null; payload: string }>;
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

/**
 * One flow, enqueued without waiting for it (as `track` does). Now and then
 * a wide one (a root with a few dozen children) right after an enqueue whose payload object is stored but whose
 * write is refused (an orphan the queue knows of, so a pass is due once it
 * is old enough); then the process freezes (`freeze`) while the flow may
 * have written its objects and not yet committed, and that pass runs
 * beside it: it must spare the flow's objects.
 */
export async function flowStep(w: World, setting: FlowSetting): Promise<void> {
  const { queues } = setting;
  const queue = w.queue!;
  const tag = `${w.report.steps}-${w.int(1_000_000)}`;
  const own = w.int(3) !== 0;
  const wide = w.int(8) === 0 ? 20 + w.int(40) : 0;
  const jobs = new Map<string, { parent: string | null; payload: string }>();
  const paths: string[] = [];
  let offloaded = false;
  const build = (path: string, parent: string | null, depth: number): FlowJob => {
    const name = `f${tag}-${path}`;
    // A wide flow offloads its root's payload and few others: a fault on any of its writes
    // after the freeze fails it (past the retry budget), and it should mostly commit.
    const big = wide > 0 ? depth === 0 || w.int(20) === 0 : w.int(3) === 0;
    offloaded ||= big;
    // Over the offload threshold (and unique, so a wrong object cannot pass for it), or well under.
    const payload = big ? `${name}:`.padEnd(w.offloadBytes + 1 + w.int(w.offloadBytes), "y") : name;
    const kids =
      depth === 0
        ? wide || 1 + w.int(4)
        : depth === 1 && wide === 0 && w.int(4) === 0
          ? 1 + w.int(2)
          : 0;
    const children = Array.from({ length: kids }, (_, i) => build(`${path}${i}`, name, depth + 1));
    jobs.set(name, { parent, payload });
    paths.push(name);
    const options = {
      priority: w.pick([100, 1_000, 10_000])!,
      maxAttempts: 1 + w.int(3),
      ...(own ? { jobId: name } : {}),
      ...(kids === 0 && w.int(4) === 0 ? { delayMs: w.int(300) } : {}),
    };
    return { queue: w.pick(queues)!, payload, options, ...(kids > 0 ? { children } : {}) };
  };
  const flow = build("r", null, 0);
  // Now and then, one job asks for the id of a job that exists (acknowledged, no removal
  // attempted): the flow must be refused whole.
  let collision: string | null = null;
  if (own && w.int(4) === 0) {
    collision = w.pick([...w.model.mustExist].filter((id) => /^[tjf]/.test(id))) ?? null;
    if (collision !== null) {
      const victim = w.pick(paths)!;
      const renamed = (job: FlowJob): void => {
        if (job.options?.jobId === victim) job.options = { ...job.options, jobId: collision! };
        for (const child of job.children ?? []) renamed(child);
      };
      renamed(flow);
      const entry = jobs.get(victim)!;
      jobs.delete(victim);
      // The victim's children still name it as their parent: the tree is checked by ids.
      jobs.set(collision, entry);
      for (const job of jobs.values()) if (job.parent === victim) job.parent = collision;
    }
  }
  let clearRefusal = (): void => {};
  let held: PauseHandle | null = null;
  if (wide > 0) {
    clearRefusal = w.faults.addRule({
      mode: "after",
      op: "put",
      keyPrefix: `${setting.path}/payload/`,
      times: 1,
      error: () => new StorageError("simulated refusal of a stored payload", { permanent: true }),
    });
    queue.enqueue(w.pick(queues)!, setting.bigPayload).then(
      (id) => w.model.enqueued(id),
      (error: unknown) => w.unexpected("enqueue", error),
    );
    await w.pass(4);
    // The flow's objects land, but their writes do not answer until after the pass.
    held = w.faults.pause({ op: "put", keyPrefix: `${setting.path}/payload/`, mode: "after" });
  }
  const plan: FlowPlan | null = own
    ? { tag, generation: w.generation, jobs, collision, outcome: "called" }
    : null;
  if (plan !== null) w.flowPlans.push(plan);
  const seq = w.model.nextSeq();
  let called: Promise<FlowResult>;
  try {
    called = queue.enqueueFlow(flow);
  } catch (error) {
    held?.release();
    clearRefusal();
    w.unexpected("enqueueFlow", error);
    return;
  }
  called.then(
    (result) => {
      w.model.durableBefore(seq);
      w.report.flows++;
      if (offloaded) w.report.offloadedFlows++;
      if (collision !== null && !w.model.removalAttempted.has(collision))
        w.violations.push(`flow ${tag} committed with the id ${collision} of a live job`);
      const byId = new Map<string, { parent: string | null; payload: string }>();
      const walk = (job: FlowJob, got: FlowResult, parent: string | null): void => {
        const asked = job.options?.jobId;
        if (asked !== undefined && got.id !== asked)
          w.violations.push(`flow ${tag} gave its job ${asked} the id ${got.id}`);
        byId.set(got.id, { parent, payload: String(job.payload) });
        for (const [i, child] of (job.children ?? []).entries())
          walk(child, got.children[i]!, got.id);
      };
      walk(flow, result, null);
      if (plan !== null) {
        if (plan.outcome === "absent")
          w.violations.push(`flow ${tag} was acknowledged after a reopen found none of it`);
        plan.outcome = "settled";
      }
      w.report.enqueued += byId.size;
      byId.delete(collision ?? "");
      if (collision !== null) w.model.idReused(collision);
      w.model.flows.add(byId);
      for (const id of byId.keys()) w.model.enqueued(id);
    },
    (error: unknown) => {
      if (error instanceof TaqubaError && error.code === "DUPLICATE_JOB_ID") {
        w.report.refusedFlows++;
        if (collision === null) w.violations.push(`flow ${tag} was refused: ${String(error)}`);
        if (plan === null) return;
        if (plan.outcome === "whole")
          w.violations.push(`flow ${tag} was refused after a reopen found it committed`);
        plan.outcome = "settled";
        for (const id of jobs.keys()) if (id !== collision) w.model.neverJobs.add(id);
        return;
      }
      w.unexpected("enqueueFlow", error);
    },
  );
  if (held === null) return;
  w.report.wideFlows++;
  await w.pass(1 + w.int(4));
  await setting.freeze();
  await w.pass(40);
  held.release();
  clearRefusal();
}

/**
 * A new process opened the store: every flow called by an earlier one
 * whose outcome is not known (in doubt, or never settled) is there whole
 * or not at all. A job a removal was attempted on may be gone either way;
 * a job handed out by a durable claim says the flow committed.
 */
export function resolveFlowsInDoubt(w: World): void {
  const state = liveState(w.queue!);
  const left = [];
  for (const plan of w.flowPlans) {
    if (plan.outcome !== "called") continue;
    if (plan.generation >= w.generation) {
      left.push(plan);
      continue;
    }
    const ids = [...plan.jobs.keys()].filter((id) => id !== plan.collision);
    const present = ids.filter((id) => state.findPublic(id) !== -1);
    const committed = present.length > 0 || ids.some((id) => w.model.everDelivered.has(id));
    plan.outcome = committed ? "whole" : "absent";
    if (!committed) {
      w.report.flowsInDoubtAbsent++;
      for (const id of ids) w.model.neverJobs.add(id);
      continue;
    }
    w.report.flowsInDoubtWhole++;
    const missing = ids.filter((id) => !present.includes(id) && !w.model.removalAttempted.has(id));
    if (missing.length > 0)
      w.violations.push(
        `flow ${plan.tag} is there in part after a reopen: ${present.length} of ${ids.length} jobs, ${missing.join(", ")} missing`,
      );
    if (plan.collision !== null && !w.model.removalAttempted.has(plan.collision))
      w.violations.push(`flow ${plan.tag} committed with the id ${plan.collision} of a live job`);
    const jobs = new Map(plan.jobs);
    if (plan.collision !== null) {
      jobs.delete(plan.collision);
      w.model.idReused(plan.collision);
    }
    w.model.flows.add(jobs);
    for (const id of ids) w.model.enqueued(id);
  }
  w.flowPlans.length = 0;
  w.flowPlans.push(...left);
}

/**
 * A flow parent was handed out: each of its children has ended (done, or
 * gone: acked, cancelled, removed). A dead child would have made it dead,
 * unless a requeue from dead brought either back.
 */
export function parentReady(w: World, id: string): string[] {
  const children = w.model.flows.children.get(id);
  if (children === undefined || w.model.requeueAttempted.has(id)) return [];
  const state = liveState(w.queue!);
  const problems: string[] = [];
  for (const child of children) {
    const h = state.findPublic(child);
    if (h === -1 || w.model.requeueAttempted.has(child)) continue;
    const status = rowOf(state, h).status;
    if (status !== Status.Done)
      problems.push(
        `flow parent ${id} was handed out while its child ${child} is ${STATUS_NAMES[status]}`,
      );
  }
  return problems;
}

/**
 * The jobs under `h` in its flow, at every depth, by handle (not `h`
 * itself); with `open`, only through children that have not ended.
 */
function below(state: State, h: number, open = false): number[] {
  const all = [h];
  for (let i = 0; i < all.length; i++)
    for (const child of rowOf(state, all[i]!).flow?.children ?? []) {
      const c = state.findPublic(child.publicId);
      if (c !== -1 && !child.removed && !(open && child.ended)) all.push(c);
    }
  return all.slice(1);
}

/** Every job of `h`'s flow (from its root down), by handle; just `h` outside a flow. */
function flowOf(state: State, h: number): number[] {
  let root = h;
  for (;;) {
    const parent = rowOf(state, root).flowParent;
    const p = parent === undefined ? -1 : state.find(parent);
    if (p === -1) break;
    root = p;
  }
  return [root, ...below(state, root)];
}

/** Jobs a removal of their flow parent removes (a claimed one is flagged for cancellation instead). */
const REMOVABLE: ReadonlySet<number> = new Set([Status.Pending, Status.Scheduled]);

/** What a call on some jobs acts on: the public ids it may change, the jobs it counts. */
export interface Reach {
  touched: string[];
  counted: Set<number>;
}

/**
 * What a removal of job `id` (a cancel, or a removal by status) reaches in
 * the state as it is: the job and every job under it in its flow (what the
 * model must expect nothing of), counting the job and those under it,
 * through children that have not ended, that are pending or scheduled (what it removes: a claimed one is flagged for
 * cancellation, and ends as a cancel's would).
 */
export function removalOf(state: State, id: string): Reach {
  const h = state.findPublic(id);
  if (h === -1) return { touched: [id], counted: new Set() };
  const open = below(state, h, true);
  return {
    touched: [id, ...below(state, h).map((each) => state.publicIdOf(each))],
    counted: new Set([h, ...open.filter((each) => REMOVABLE.has(rowOf(state, each).status))]),
  };
}

/**
 * What a requeue of the dead job `id` reaches: its whole flow (touched, to
 * be safe), counting the dead part of the flow it is in: up through its
 * dead parents to the topmost, and down from there through every dead child
 * still linked to its dead parent; none when a parent in that part had a
 * child removed before it ended (it stays dead: `requeueDeadJob` refuses it).
 */
export function requeueOf(state: State, id: string): Reach {
  const h = state.findPublic(id);
  if (h === -1) return { touched: [id], counted: new Set() };
  const touched = [id, ...flowOf(state, h).map((each) => state.publicIdOf(each))];
  let top = h;
  for (;;) {
    const parent = rowOf(state, top).flowParent;
    const p = parent === undefined ? -1 : state.find(parent);
    if (p === -1 || rowOf(state, p).status !== Status.Dead) break;
    top = p;
  }
  const counted = new Set<number>();
  let refused = false;
  const visit = (job: number): void => {
    counted.add(job);
    const row = rowOf(state, job);
    for (const child of row.flow?.children ?? []) {
      refused ||= child.removed;
      const c = child.ended ? state.find(child.id) : -1;
      if (c === -1) continue;
      const childRow = rowOf(state, c);
      if (childRow.status === Status.Dead && childRow.flowParent === state.idOf(job)) visit(c);
    }
  };
  visit(top);
  return { touched, counted: refused ? new Set() : counted };
}
