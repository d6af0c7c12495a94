/**
 * The seam tracing plugs into: what the queue asks of an instrumentation
 * around an enqueue (a span whose context travels in the job headers) and
 * what the worker asks of it around a handler run. Metrics and events need
 * no seam of their own: they observe the commit boundary (`observe.ts`).
 * Defined here, without any OpenTelemetry type, so the core never loads it.
 */
import type { Headers } from "./state.js";
import type { TraceContext } from "./trace-context.js";
import type { Claim } from "./types.js";

/** An enqueue in progress, as the instrumentation tracks it. */
export interface EnqueueTrace {
  /**
   * The job headers to store: the caller's (the same object when unchanged),
   * plus `tracestate` when the span carries vendor state and the caller gave
   * no `traceparent` (one the caller gave stays the job's, with its state).
   */
  readonly headers: Headers | undefined;
  /** The producer span's context, stored with each job (binary), or undefined. */
  readonly context: TraceContext | undefined;
  /** The enqueue resolved: with these ids, `created` false for a dedup hit. */
  succeeded(ids: readonly string[], created: boolean): void;
  /** The enqueue failed with `error`. */
  failed(error: unknown): void;
}

/** Spans around the queue's operations. */
export interface Tracing {
  /**
   * An enqueue of `count` jobs into `queue` begins (after its arguments were
   * checked). `undefined` when it is not traced (no span started, or one that
   * records nothing and adds no context): the enqueue goes on untouched.
   */
  enqueue(queue: string, headers: Headers | undefined, count: number): EnqueueTrace | undefined;
  /**
   * Whether a run of `claim`'s handler gets a span. When it does not, the
   * worker calls the handler itself, as with tracing off: no wrapper and no
   * promise of its own per job.
   */
  tracesRun(claim: Claim): boolean;
  /**
   * Runs a handler on `claim` in its span (for a claim {@link tracesRun}
   * accepts); resolves or rejects as `run` does. A handler that throws
   * fails its span; one that returns still fails it when `failure(value)`,
   * asked then with what `run` resolved to, gives why its attempt failed
   * anyway (its return value cannot be stored as its result, its deadline
   * passed, its claim was lost). `givenUp`, when given, is called at once
   * with a function that ends the span now, failed with `reason`: the worker
   * calls it when it gives the run up while the handler still runs (its
   * deadline passed, or the shutdown abandoned it), since such a handler may
   * never return. Whatever the run does after that leaves the span as it is.
   */
  handle(
    claim: Claim,
    run: () => Promise<unknown>,
    failure: (value: unknown) => unknown | undefined,
    givenUp?: (endNow: (reason: unknown) => void) => void,
  ): Promise<unknown>;
}

/** What telemetry attached to an open queue. */
export interface Instrumentation {
  /** `null` when traces are off. */
  readonly tracing: Tracing | null;
  /** The queue closes: stop reporting. */
  close(): void;
}

/** Where a `Queue` exposes its instrumentation to the worker (not part of the public type). */
export const INSTRUMENTATION: unique symbol = Symbol("taquba.instrumentation");

/** The tracing of `queue`, or `null` when it has none. */
export function tracingOf(queue: object): Tracing | null {
  const instrumentation = (queue as { [INSTRUMENTATION]?: Instrumentation | null })[
    INSTRUMENTATION
  ];
  return instrumentation?.tracing ?? null;
}
