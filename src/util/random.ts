/**
 * Randomness: a seeded generator for reproducible tests and benchmarks, and
 * the source taquba draws ids, object names, write tokens and jitter from
 * (the system's crypto one, replaceable only by a test).
 */
import { randomBytes } from "node:crypto";
import { ulid } from "ulid";
import { describeValue, expectationMessage } from "../validate.js";

/**
 * A deterministic pseudo-random generator (mulberry32) returning numbers in
 * [0, 1). The same seed always yields the same sequence, so fault and latency
 * schedules in tests and benchmarks are reproducible.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Where taquba draws its randomness: the random part of job ids, of
 * payload, checkpoint and probe object names, a WAL batch's write token, a
 * writer's id, and retry jitter. None of it guards a secret, but write
 * tokens and writer ids must be unique across every writer of a store, in
 * any process: fencing and the resolution of an ambiguous create tell
 * writers apart by them. So the system's source (crypto) is the only one
 * for production; a replacement is for tests that run one simulated world.
 */
export interface RandomSource {
  /** `n` random bytes. */
  bytes(n: number): Buffer;
  /** A number in [0, 1). */
  fraction(): number;
  /** A ULID for wall time `time` (random in its last 16 characters). */
  ulid(time: number): string;
}

/** The system's random source: `crypto.randomBytes`, `Math.random` and the `ulid` package's own. */
export const systemRandom: RandomSource = {
  bytes: (n) => randomBytes(n),
  fraction: () => Math.random(),
  ulid: (time) => ulid(time),
};

/**
 * A random source drawing everything from `random` (say, {@link seededRandom}):
 * for tests that must replay a run exactly. Never for production: its ids
 * and tokens are predictable.
 */
export function randomSourceFrom(random: () => number): RandomSource {
  return {
    bytes: (n) => {
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
      return out;
    },
    fraction: random,
    ulid: (time) => ulid(time, random),
  };
}

/**
 * Registry key of the test-only random source: a {@link RandomSource} set
 * under this key on `Queue.open`'s options replaces the system's for that
 * queue and its log, so a deterministic simulation replays its ids, object
 * names, write tokens and retry jitter. Never set it outside such a test:
 * two writers of one store drawing the same sequence would have the same
 * write tokens, and fencing could not tell them apart.
 */
export const RANDOM_SOURCE = Symbol.for("taquba.randomSource");

/** The random source set on `options` under {@link RANDOM_SOURCE}, else the system's. */
export function randomSourceOf(options: object | undefined): RandomSource {
  const source = (options as Record<symbol, unknown> | undefined)?.[RANDOM_SOURCE];
  if (source === undefined) return systemRandom;
  const methods = source as Partial<Record<keyof RandomSource, unknown>> | null;
  if (
    typeof methods !== "object" ||
    methods === null ||
    typeof methods.bytes !== "function" ||
    typeof methods.fraction !== "function" ||
    typeof methods.ulid !== "function"
  )
    throw new TypeError(
      expectationMessage(
        'options[Symbol.for("taquba.randomSource")]',
        "a test-only random source (an object with bytes, fraction and ulid methods)",
        describeValue(source),
      ),
    );
  return source as RandomSource;
}
