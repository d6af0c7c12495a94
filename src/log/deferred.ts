/** `Deferred`: a promise settled later by whoever holds it (group commit's acknowledgements). */
/** A promise with its settle functions, for callers that resolve later and in order. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

/**
 * Creates a deferred whose rejection alone never counts as unhandled: callers
 * may legitimately drop an append's promise (the failure still reaches them
 * through `onFailure` and every later call).
 */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}
