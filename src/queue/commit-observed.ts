/** Commits while observers listen: the transitions noted before each record applies, told once per durable log batch. */
import type { Log } from "../log/index.js";
import { apply } from "./apply.js";
import {
  cascadedDeaths,
  EnqueueCounts,
  jobBefore,
  type Observers,
  type Transition,
  type TransitionCause,
} from "./observe.js";
import type { QueueRecord, RecordEncoder } from "./records/codec.js";
import { Tag } from "./records/tags.js";
import type { State } from "./state.js";

function noop(): void {}

/** What the observers hear of one log batch once it is durable. */
interface DurableBatch {
  readonly written: Promise<void>;
  /** In commit order. */
  readonly transitions: Transition[];
  /** Enqueues counted instead of kept as transitions (no observer needs each); null until the first. */
  enqueued: EnqueueCounts | null;
}

/** The enqueue counts of `batch`, made with its first counted enqueue. */
function enqueueCountsOf(batch: DurableBatch): EnqueueCounts {
  if (batch.enqueued === null) batch.enqueued = new EnqueueCounts();
  return batch.enqueued;
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
   * needs each one (no transition made, no record kept until durable).
   * `encoded` is the encoding of a single record already made (a flow's,
   * encoded in slices before this step), not made again.
   */
  commit(
    records: QueueRecord | readonly QueueRecord[],
    cause: TransitionCause | undefined,
    encoded?: Uint8Array,
  ): Promise<void> {
    const state = this.#state;
    const counted = !this.#observers.eachEnqueue;
    if (!Array.isArray(records)) {
      const record = records as QueueRecord;
      const bytes = encoded ?? this.#encoder.encode(record);
      if (record.tag === Tag.Enqueue) {
        // The commonest commit: counted, or one transition at the job's enqueue time (this very step's wall time).
        apply(state, record);
        const batch = this.#batchOf(this.#log.append(bytes));
        if (counted) enqueueCountsOf(batch).add(record.queue);
        else batch.transitions.push({ record, job: undefined, cause, at: record.enqueuedAt });
        return batch.written;
      }
      const transitions: Transition[] = [];
      const queues: string[] | null = counted ? [] : null;
      transitionsOf(state, record, cause, this.#now(), transitions, queues);
      apply(state, record);
      return this.#notifyWhenDurable(this.#log.append(bytes), transitions, queues);
    }
    const at = this.#now();
    const encodings = records.map((r) => this.#encoder.encode(r));
    const transitions: Transition[] = [];
    const queues: string[] | null = counted ? [] : null;
    for (const record of records) {
      transitionsOf(state, record, cause, at, transitions, queues);
      apply(state, record);
    }
    return this.#notifyWhenDurable(this.#log.append(encodings), transitions, queues);
  }

  /** Tells the observers of `transitions` and of enqueues into `queues` (one per job) once `written` resolves. */
  #notifyWhenDurable(
    written: Promise<void>,
    transitions: readonly Transition[],
    queues: readonly string[] | null,
  ): Promise<void> {
    const batch = this.#batchOf(written);
    for (const t of transitions) batch.transitions.push(t);
    if (queues !== null && queues.length > 0) {
      const enqueued = enqueueCountsOf(batch);
      for (const queue of queues) enqueued.add(queue);
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
    const next: DurableBatch = { written, transitions: [], enqueued: null };
    this.#notifying = next;
    written.then(() => {
      if (this.#notifying === next) this.#notifying = null;
      this.#observers.notify(next.transitions, next.enqueued ?? undefined);
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
