/**
 * The refusal of a `Queue` or `QueueReader` method called on something else
 * than a queue or reader: a destructured `enqueue`, a method passed as a
 * callback, `Queue.prototype.stats.call({})`. Each class checks its brand
 * where its methods read their state (`#core`, the reader's parts), so the
 * engine's "Cannot read private member" never reaches the caller.
 */
import { describeValue, expectationMessage } from "../validate.js";

/** Whether `value` looks like a `kind` this copy did not make (a Proxy of one, an object made from one, another copy's). */
function isForeign(value: unknown, kind: string): boolean {
  if (typeof value !== "object" || value === null) return false;
  return (value as { constructor?: { name?: unknown } }).constructor?.name === kind;
}

/** `value` as `this` was: its class when it has one. */
function describeReceiver(value: unknown): string {
  if (typeof value === "object" && value !== null) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === "string" && name !== "" && name !== "Object")
      return `an instance of ${name}`;
  }
  return describeValue(value);
}

/** The `TypeError` for a method of `kind` called with `receiver` as `this`. */
export function notReceiver(kind: "Queue" | "QueueReader", receiver: unknown): TypeError {
  const [name, example] = kind === "Queue" ? ["queue", "enqueue"] : ["reader", "stats"];
  const expected = `a taquba ${kind}`;
  if (isForeign(receiver, kind))
    return new TypeError(
      `${expectationMessage("this", expected, `a ${kind} this copy of taquba did not open (a Proxy of a ${name}, an object made from one, or a ${kind} of another copy or build of taquba)`)}: call it on the ${name} itself, and load one copy of taquba (npm ls taquba)`,
    );
  return new TypeError(
    `${expectationMessage("this", expected, describeReceiver(receiver))}: call the method on the ${name} (${name}.${example}(…), not a detached ${example}(…)), or bind it (${name}.${example}.bind(${name}))`,
  );
}
