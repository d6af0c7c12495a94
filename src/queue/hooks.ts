/**
 * The package-internal hooks on `Queue.prototype`, keyed by symbols so they
 * are not part of the `Queue` type: the live state for invariant audits
 * (`Symbol.for("taquba.inspectState")`, used by tests), the length of a
 * slice of bulk work (`Symbol.for("taquba.setSliceMs")`: tests shorten it
 * to force many slices), the commit boundary's observers
 * (`Symbol.for("taquba.observers")`: tests watch what observers are told), the attached
 * instrumentation (read by the worker), the worker's way to fail an attempt
 * as timed out, to ack with a result it copied already, to mark the claims
 * whose leases it renews (the reaper renews rather than reaps those), to check a claim it held ready before starting it, to
 * tell a claim settled already from a lost one, to learn at once that the
 * queue stopped, whether its close began, and to ask whether a claim
 * was lost under a running handler or be told when it is (`worker-hooks.ts`,
 * answered in `settle.ts`), to report progress
 * (`progress.ts`), and the clock its timers run on (`time.ts`); and the
 * dashboard's way to read a job whose payload object is damaged (`reads.ts`).
 */
import type { MonotonicClock } from "../clock.js";
import type { Logger } from "../logger.js";
import { QUEUE_CLOSING } from "./close-queue.js";
import type { QueueCore } from "./core.js";
import { INSTRUMENTATION, type Instrumentation } from "./instrument.js";
import type { Observers } from "./observe.js";
import { REPORT_PROGRESS, recordProgress } from "./progress.js";
import { READ_JOB_AS_LISTED, readJobAsListed } from "./reads.js";
import {
  ackClaim,
  isClaimQueuePaused,
  isStartable,
  lostReasonOf,
  nackClaim,
  setOnLost,
  setRenewedByWorker,
  wasSettled,
} from "./settle.js";
import type { State } from "./state.js";
import { TIMER_CLOCK } from "./time.js";
import type { Claim, JobRecord } from "./types.js";
import {
  ACK_TAKEN,
  CLAIM_LOST_REASON,
  CLAIM_ON_LOST,
  CLAIM_QUEUE_PAUSED,
  CLAIM_RENEWED_BY_WORKER,
  CLAIM_SETTLED,
  CLAIM_STARTABLE,
  NACK_TIMED_OUT,
  QUEUE_FAILURE,
  QUEUE_LOGGER,
  QUEUE_ON_STOPPED,
} from "./worker-hooks.js";

/** Registry key of the test-only inspection hook: `queue[INSPECT_STATE]()` returns the live state. */
const INSPECT_STATE = Symbol.for("taquba.inspectState");

/** Registry key of the test-only slice hook: `queue[SET_SLICE_MS](ms)` sets how long a slice of bulk work runs. */
const SET_SLICE_MS = Symbol.for("taquba.setSliceMs");

/** Registry key of the test-only observers hook: `queue[OBSERVERS]()` returns the commit boundary's observers. */
const OBSERVERS = Symbol.for("taquba.observers");

/** Installs the hooks on `prototype`, reading each queue's core through `coreOf`. */
export function installHooks(prototype: object, coreOf: (queue: object) => QueueCore): void {
  Object.defineProperty(prototype, INSPECT_STATE, {
    value(this: object): State {
      return coreOf(this).state;
    },
  });
  Object.defineProperty(prototype, SET_SLICE_MS, {
    value(this: object, ms: number): void {
      coreOf(this).sliceMs = ms;
    },
  });
  Object.defineProperty(prototype, OBSERVERS, {
    value(this: object): Observers {
      return coreOf(this).observers;
    },
  });
  Object.defineProperty(prototype, INSTRUMENTATION, {
    get(this: object): Instrumentation | null {
      return coreOf(this).instrumentation;
    },
  });
  Object.defineProperty(prototype, QUEUE_FAILURE, {
    get(this: object): Error | null {
      return coreOf(this).failure;
    },
  });
  Object.defineProperty(prototype, QUEUE_ON_STOPPED, {
    value(this: object, callback: () => void): () => void {
      return coreOf(this).onStopped(callback);
    },
  });
  Object.defineProperty(prototype, QUEUE_CLOSING, {
    get(this: object): boolean {
      return coreOf(this).closing;
    },
  });
  Object.defineProperty(prototype, QUEUE_LOGGER, {
    get(this: object): Logger {
      return coreOf(this).logger;
    },
  });
  Object.defineProperty(prototype, TIMER_CLOCK, {
    get(this: object): MonotonicClock {
      return coreOf(this).timed;
    },
  });
  Object.defineProperty(prototype, REPORT_PROGRESS, {
    value(this: object, claim: Claim, value: unknown): void {
      recordProgress(coreOf(this), claim, value);
    },
  });
  // What the worker asks about a claim (`worker-hooks.ts`): each a question to the queue's core.
  const claimQuestions: [symbol, (core: QueueCore, claim: Claim) => unknown][] = [
    [CLAIM_STARTABLE, isStartable],
    [CLAIM_SETTLED, (_core, claim) => wasSettled(claim)],
    [CLAIM_QUEUE_PAUSED, isClaimQueuePaused],
    [CLAIM_LOST_REASON, lostReasonOf],
  ];
  for (const [key, ask] of claimQuestions)
    Object.defineProperty(prototype, key, {
      value(this: object, claim: Claim): unknown {
        return ask(coreOf(this), claim);
      },
    });
  Object.defineProperty(prototype, CLAIM_RENEWED_BY_WORKER, {
    value(this: object, claim: Claim, leaseMs: number | undefined): void {
      setRenewedByWorker(coreOf(this), claim, leaseMs);
    },
  });
  Object.defineProperty(prototype, CLAIM_ON_LOST, {
    value(this: object, claim: Claim, callback: (reason: Error) => void): void {
      setOnLost(coreOf(this), claim, callback);
    },
  });
  Object.defineProperty(prototype, READ_JOB_AS_LISTED, {
    value(this: object, id: string): Promise<JobRecord | null> {
      return readJobAsListed(coreOf(this), id);
    },
  });
  Object.defineProperty(prototype, ACK_TAKEN, {
    value(this: object, claim: Claim, result: Uint8Array | string): Promise<void> {
      return ackClaim(coreOf(this), claim, { result }, false);
    },
  });
  Object.defineProperty(prototype, NACK_TIMED_OUT, {
    value(this: object, claim: Claim, message: string): Promise<void> {
      return nackClaim(coreOf(this), claim, message, "timed_out");
    },
  });
}
