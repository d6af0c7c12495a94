/** Commits while observers listen: the transitions noted before each record applies, told once per durable log batch. */
import type { Log } from "../log/index.js";
import { apply } from "./apply.js";
import {
  ClaimAckTimes,
  cascadedDeaths,
  EnqueueCounts,
  elapsedMs,
  jobBefore,
  type Observers,
  requeuedWith,
} from "./observe.js";
import type { QueueRecord, RecordEncoder } from "./records/codec.js";
import type { EnqueueRecord } from "./records/enqueue.js";
import type { AckRecord, ClaimRecord } from "./records/job.js";
import { Tag } from "./records/tags.js";
import type { State } from "./state.js";
import type { Transition, TransitionCause } from "./transition.js";

function noop(): void {}

/** What the observers hear of one log batch once it is durable. */
interface DurableBatch {
  readonly written: Promise<void>;
  /** In commit order. */
  readonly transitions: Transition[];
  /** Enqueues counted instead of kept as transitions (no observer needs each); null until the first. */
  enqueued: EnqueueCounts | null;
  /** Claims and acks kept as times instead of transitions (no observer needs each); null until the first. */
  times: ClaimAckTimes | null;
}

/** The enqueue counts of `batch`, made with its first counted enqueue. */
function enqueueCountsOf(batch: DurableBatch): EnqueueCounts {
  if (batch.enqueued === null) batch.enqueued = new EnqueueCounts();
  return batch.enqueued;
}

/** The claim and ack times of `batch`, made with its first. */
function timesOf(batch: DurableBatch): ClaimAckTimes {
  if (batch.times === null) batch.times = new ClaimAckTimes();
  return batch.times;
}

/** Whether `record` may be kept as times when no observer needs a transition per claim and ack. */
function plainClaimOrAck(
  record: QueueRecord,
  cause: TransitionCause | undefined,
): record is ClaimRecord | AckRecord {
  return cause === undefined && (record.tag === Tag.Claim || record.tag === Tag.Ack);
}

/** The observed path of the core's commit boundary, and the batch the observers will hear of next. */
export class ObservedCommits {
  readonly #state: State;
  readonly #log: Log;
  readonly #observers: Observers;
  readonly #encoder: RecordEncoder;
  /** Current wall time (the core's clock). */
  readonly #now: () => number;
  /** The newest log batch not yet durable, told to the observers together. */
  #notifying: DurableBatch | null = null;

  constructor(
    state: State,
    log: Log,
    observers: Observers,
    encoder: RecordEncoder,
    now: () => number,
  ) {
    this.#state = state;
    this.#log = log;
    this.#observers = observers;
    this.#encoder = encoder;
    this.#now = now;
  }

  /**
   * The core's commit while observers listen: notes each job as it was before its
   * record applies. Enqueues are only counted by queue unless an observer
   * needs each one (no transition made, no record kept until durable);
   * plain claims and acks are only kept as their queues and times unless an
   * observer needs each one.
   * `encoded` is the encoding of a single record already made (a flow's,
   * encoded in slices before this step), not made again.
   */
  commit(
    records: QueueRecord | readonly QueueRecord[],
    cause: TransitionCause | undefined,
    /** The encoding of each record (one, or one per record of an array), when made already. */
    encoded?: Uint8Array | readonly Uint8Array[],
  ): Promise<void> {
    // Each kind of commit has a method of its own: the code optimized for
    // the enqueues a process starts with is not thrown away (and compiled
    // again, larger) when its first claims and acks come.
    if (Array.isArray(records))
      return this.#commitMany(records, cause, encoded as readonly Uint8Array[] | undefined);
    const record = records as QueueRecord;
    const bytes = (encoded as Uint8Array | undefined) ?? this.#encoder.encode(record);
    if (record.tag === Tag.Enqueue) return this.#commitEnqueue(record, cause, bytes);
    // Plain claims and acks as times (no transition, no clock read) when no observer needs each.
    if (!this.#observers.eachClaimAndAck && plainClaimOrAck(record, cause))
      return this.#commitTimed(record, bytes);
    const transitions: Transition[] = [];
    const queues: string[] | null = this.#observers.eachEnqueue ? null : [];
    transitionsOf(this.#state, record, cause, this.#now(), transitions, queues);
    apply(this.#state, record);
    return this.#notifyWhenDurable(this.#log.append(bytes), transitions, queues, null);
  }

  /** The commonest commit: counted, or one transition at the job's enqueue time (this very step's wall time). */
  #commitEnqueue(
    record: EnqueueRecord,
    cause: TransitionCause | undefined,
    bytes: Uint8Array,
  ): Promise<void> {
    apply(this.#state, record);
    const batch = this.#batchOf(this.#log.append(bytes));
    if (!this.#observers.eachEnqueue) enqueueCountsOf(batch).add(record.queue);
    else batch.transitions.push({ record, job: undefined, cause, at: record.enqueuedAt });
    return batch.written;
  }

  /** The next commonest (an ack, or a claim of one job): noted before it applies, kept once applied. */
  #commitTimed(record: ClaimRecord | AckRecord, bytes: Uint8Array): Promise<void> {
    const state = this.#state;
    const h = state.peekNamed(record.id);
    const queue = h === -1 ? "" : state.queueOf(h).name;
    const ms = h === -1 ? 0 : elapsedMs(state, h, record);
    apply(state, record); // refuses a record naming no job
    const batch = this.#batchOf(this.#log.append(bytes));
    if (h === -1) return batch.written;
    if (record.tag === Tag.Claim) timesOf(batch).addClaim(queue, ms);
    else timesOf(batch).addAck(record, queue, ms, batch.transitions.length);
    return batch.written;
  }

  /** Records committed together (a batch of claims, a bulk step): in one log append. */
  #commitMany(
    records: readonly QueueRecord[],
    cause: TransitionCause | undefined,
    encoded: readonly Uint8Array[] | undefined,
  ): Promise<void> {
    const state = this.#state;
    const timed = !this.#observers.eachClaimAndAck;
    // The commit's wall time, read with the first record that becomes a
    // transition (a batch of claims kept as times needs none), the same for the rest.
    let at: number | undefined;
    const encodings = encoded ?? records.map((r) => this.#encoder.encode(r));
    const transitions: Transition[] = [];
    const queues: string[] | null = this.#observers.eachEnqueue ? null : [];
    let times: ClaimAckTimes | null = null;
    for (const record of records) {
      if (timed && plainClaimOrAck(record, cause)) {
        const h = state.peekNamed(record.id);
        if (h !== -1) {
          times ??= new ClaimAckTimes();
          const queue = state.queueOf(h).name;
          const ms = elapsedMs(state, h, record);
          if (record.tag === Tag.Claim) times.addClaim(queue, ms);
          else times.addAck(record, queue, ms, transitions.length);
        }
      } else {
        at ??= this.#now();
        transitionsOf(state, record, cause, at, transitions, queues);
      }
      apply(state, record);
    }
    return this.#notifyWhenDurable(this.#log.append(encodings), transitions, queues, times);
  }

  /**
   * Tells the observers of `transitions`, of enqueues into `queues` (one per
   * job) and of claims and acks in `times` once `written` resolves.
   */
  #notifyWhenDurable(
    written: Promise<void>,
    transitions: readonly Transition[],
    queues: readonly string[] | null,
    times: ClaimAckTimes | null,
  ): Promise<void> {
    const batch = this.#batchOf(written);
    // The acks' places among this commit's transitions, after the batch's earlier ones.
    const before = batch.transitions.length;
    for (const t of transitions) batch.transitions.push(t);
    if (queues !== null && queues.length > 0) {
      const enqueued = enqueueCountsOf(batch);
      for (const queue of queues) enqueued.add(queue);
    }
    if (times !== null) {
      const into = timesOf(batch);
      for (let i = 0; i < times.claimQueues.length; i++)
        into.addClaim(times.claimQueues[i]!, times.waitsMs[i]!);
      for (let i = 0; i < times.ackQueues.length; i++)
        into.addAck(
          times.acks[i]!,
          times.ackQueues[i]!,
          times.durationsMs[i]!,
          before + times.acksAfter[i]!,
        );
    }
    return written;
  }

  /**
   * What the observers will hear once `written` resolves. Calls that join one
   * log batch get the same promise from the log, so the observers hear of a
   * whole batch at once (one notification, not one per call).
   */
  #batchOf(written: Promise<void>): DurableBatch {
    const current = this.#notifying;
    if (current !== null && current.written === written) return current;
    const next: DurableBatch = { written, transitions: [], enqueued: null, times: null };
    this.#notifying = next;
    written.then(() => {
      if (this.#notifying === next) this.#notifying = null;
      this.#observers.notify(next.transitions, next.enqueued ?? undefined, next.times ?? undefined);
    }, noop);
    return next;
  }
}

/**
 * Adds the transitions `record` makes to `into`, noted before it applies: a
 * transaction's are one per operation (its operations act on different jobs,
 * so each one's job before the transaction is its job before the operation),
 * and a dead-letter's include the flow parents it makes dead. With `queues`,
 * an enqueue (also one in a transaction) is counted there by its queue
 * instead of made a transition.
 */
function transitionsOf(
  state: State,
  record: QueueRecord,
  cause: TransitionCause | undefined,
  at: number,
  into: Transition[],
  queues: string[] | null,
): void {
  // Most records are one transition of their own (an enqueue, a claim, an ack).
  if (record.tag !== Tag.Transaction && record.tag !== Tag.Dead && record.tag !== Tag.Remove) {
    if (queues !== null && record.tag === Tag.Enqueue) queues.push(record.queue);
    else into.push({ record, job: jobBefore(state, record), cause, at });
    // A dead flow job's requeue brings its dead children back with it.
    if (record.tag === Tag.RequeueDead) into.push(...requeuedWith(state, record, at));
    return;
  }
  /** Flow parents already dead in this record (two children of one parent dead-lettered in one transaction). */
  let parentsDead: Set<string> | undefined;
  for (const op of record.tag === Tag.Transaction ? record.ops : [record]) {
    if (queues !== null && op.tag === Tag.Enqueue) {
      queues.push(op.queue);
      continue;
    }
    into.push({ record: op, job: jobBefore(state, op), cause, at });
    // A dead-letter (or a removal) can take waiting flow parents with it.
    if (op.tag !== Tag.Dead && op.tag !== Tag.Remove) continue;
    for (const death of cascadedDeaths(state, op, at)) {
      const id = death.job?.id ?? "";
      parentsDead ??= new Set();
      if (parentsDead.has(id)) continue;
      parentsDead.add(id);
      into.push(death);
    }
  }
}
