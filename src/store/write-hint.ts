/**
 * The hint a log gives its store when a steady stream of writes may begin:
 * appends from more than one call gather in one WAL batch (see `writer.ts`
 * in `src/log`), once per such batch. A store that can prepare for such a stream records what to
 * do on itself, under a registry symbol (non-enumerable, not part of its
 * type, as the key room of `key-room.ts`): the {@link FileStore} starts its
 * writer thread at the second hint within its idle time of the one before
 * (two such batches: a stream, not one burst), instead of at its eighth
 * write in a row, so that the thread is up before most of the stream's
 * first writes. The package's store
 * wrappers pass the hint on to the store they wrap; any other store is not
 * told. A queue only opened and closed, or written one awaited call at a
 * time, gives none.
 */

/** Registry key of a store's hint (see {@link setWritesComing}). */
const WRITES_COMING = Symbol.for("taquba.writesComing");

/** Records on `store` what it does when told that writes are coming. */
export function setWritesComing(store: object, hint: () => void): void {
  Object.defineProperty(store, WRITES_COMING, { value: hint, configurable: true });
}

/** Gives `wrapper` the hint of the store it wraps (if that has one). */
export function copyWritesComing(inner: object, wrapper: object): void {
  const hint = (inner as Record<symbol, unknown>)[WRITES_COMING];
  if (typeof hint === "function") setWritesComing(wrapper, hint as () => void);
}

/**
 * Tells `store` that a steady stream of writes is starting, if it takes the
 * hint. A hint is advice: what it throws is ignored.
 */
export function writesComing(store: object): void {
  const hint = (store as Record<symbol, unknown>)[WRITES_COMING];
  if (typeof hint !== "function") return;
  try {
    (hint as () => void)();
  } catch {
    // Advice only: the writes go through as they would have.
  }
}
