/**
 * The commit boundary of an open queue: every transition passes here, its
 * records applied to the state (through the one `apply`) and appended to
 * the log in one synchronous step, unless the log refuses appends. After
 * each commit the payload objects of the jobs it removed are deleted once
 * it is durable, and the waiting claims of queues where it made a flow
 * parent pending are served. While observers listen, the path is
 * `commit-observed.ts`'s. While sliced work is under way, each commit's time
 * is charged to the queue's turn window: a commit cannot be sliced (a flow of
 * 10,000 jobs is one step of 10–20 ms), so the slices that run after it in
 * the same turn yield sooner.
 */
import type { Log } from "../log/index.js";
import type { MonotonicNow, TurnWindow } from "../util/slices.js";
import { apply } from "./apply.js";
import { ObservedCommits } from "./commit-observed.js";
import type { Observers } from "./observe.js";
import type { PayloadObjects } from "./payloads.js";
import { type QueueRecord, RecordEncoder } from "./records/codec.js";
import type { State } from "./state.js";
import type { TransitionCause } from "./transition.js";

/** Applies and appends each transition of one queue (see `QueueCore.commit`). */
export class CommitBoundary {
  readonly #state: State;
  readonly #log: Log;
  readonly #observers: Observers;
  /** Offloaded payload objects. */
  readonly #payloads: PayloadObjects;
  /** Serves the waiting claims of one queue (`QueueCore.dispatch`). */
  readonly #dispatch: (queue: string) => void;
  /** Encodes committed records into shared buffers (one view per record). */
  readonly #encoder = new RecordEncoder();
  #commits = 0;
  /** The path while observers listen. */
  readonly #observed: ObservedCommits;
  /** The slice clock, and the window each commit's time is charged to (see `TurnWindow.charge`). */
  readonly #slices: { readonly now: MonotonicNow; readonly window: TurnWindow };

  constructor(
    state: State,
    log: Log,
    observers: Observers,
    payloads: PayloadObjects,
    /** Current wall time (the core's clock). */
    now: () => number,
    dispatch: (queue: string) => void,
    slices: { readonly now: MonotonicNow; readonly window: TurnWindow },
  ) {
    this.#slices = slices;
    this.#state = state;
    this.#log = log;
    this.#observers = observers;
    this.#payloads = payloads;
    this.#dispatch = dispatch;
    this.#observed = new ObservedCommits(state, log, observers, this.#encoder, now);
  }

  /**
   * How many commits were applied so far: work decided over several turns
   * (`flow-admin.ts`) sees from it whether the state changed meanwhile.
   */
  get commits(): number {
    return this.#commits;
  }

  /**
   * The decide/apply boundary: applies `records` to the state and appends them
   * to the log (as one atomic unit) in the same synchronous step. Every
   * transition passes here; the promise resolves once they are durable, and
   * then the observers hear of them (`cause` says why the queue decided them
   * where the records do not).
   *
   * A log that refuses appends (closed or closing, failed, fenced) is asked
   * first: the records are then not applied, and the promise rejects with
   * its error. Applied but refused, they would stay in the state, and the
   * closing checkpoint would write what the caller was told failed.
   */
  commit(
    records: QueueRecord | readonly QueueRecord[],
    cause?: TransitionCause,
    /** The encodings of an array of `records`, one each, when made already. */
    encodedMany?: readonly Uint8Array[],
  ): Promise<void> {
    const refused = this.#log.refusal();
    if (refused !== null) {
      // Hints of `state.expect` are for these records only, applied or not.
      this.#state.forgetExpected();
      return Promise.reject(refused);
    }
    this.#commits++;
    const started = this.#slices.window.chargeFrom(this.#slices.now);
    let written: Promise<void>;
    try {
      if (this.#observers.active) written = this.#observed.commit(records, cause, encodedMany);
      else if (!Array.isArray(records)) {
        const record = records as QueueRecord;
        const bytes = this.#encoder.encode(record);
        apply(this.#state, record);
        written = this.#log.append(bytes);
      } else {
        const encoded = encodedMany ?? records.map((r) => this.#encoder.encode(r));
        // Indexed: unoptimized, for-of makes an iterator result per record (10,000 for a flow's
        // removal, in one turn).
        for (let i = 0; i < records.length; i++) apply(this.#state, records[i]!);
        written = this.#log.append(encoded);
      }
    } finally {
      // Hints of `state.expect` are for these records only.
      this.#state.forgetExpected();
    }
    this.#collectPayloads(written);
    this.#serveWokenParents();
    this.#slices.window.charge(started, this.#slices.now);
    return written;
  }

  /**
   * {@link commit} of one record already encoded as `bytes` (a flow's
   * transaction, encoded in slices before the turn that commits it): the
   * same apply and append, and the same notes for observers, without the
   * encoding in this step; refused the same way.
   */
  commitEncoded(record: QueueRecord, bytes: Uint8Array): Promise<void> {
    const refused = this.#log.refusal();
    if (refused !== null) {
      this.#state.forgetExpected();
      return Promise.reject(refused);
    }
    this.#commits++;
    const started = this.#slices.window.chargeFrom(this.#slices.now);
    let written: Promise<void>;
    try {
      if (this.#observers.active) written = this.#observed.commit(record, undefined, bytes);
      else {
        apply(this.#state, record);
        written = this.#log.append(bytes);
      }
    } finally {
      // Hints of `state.expect` and `state.expectEnqueueIds` are for this record only.
      this.#state.forgetExpected();
    }
    this.#collectPayloads(written);
    this.#serveWokenParents();
    this.#slices.window.charge(started, this.#slices.now);
    return written;
  }

  /** Flow parents the records made pending: their queues' waiting claims are served. */
  #serveWokenParents(): void {
    const woken = this.#state.flowWoken;
    if (woken.size === 0) return;
    const names = [...woken];
    woken.clear();
    for (const name of names) this.#dispatch(name);
  }

  /** Offloaded payloads of jobs the records just removed: deleted once the removal is durable. */
  #collectPayloads(written: Promise<void>): void {
    const garbage = this.#state.payloadGarbage;
    if (garbage.length === 0) return;
    this.#payloads.deleteWhenDurable(written, garbage.splice(0));
  }
}
