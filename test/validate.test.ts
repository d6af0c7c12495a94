import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../src/errors.js";
import {
  checkLogger,
  checkOptionsObject,
  expectationMessage,
  invalidArgument,
  invalidArgumentGot,
  likelyKey,
  unknownKeys,
} from "../src/validate.js";

const ENQUEUE = ["jobId", "delayMs", "priority", "maxAttempts", "runAt", "dedupKey", "headers"];

describe("option keys", () => {
  it("likelyKey names the known key a misspelt one stands for, and nothing when none is close", () => {
    assert.equal(likelyKey("delay", ENQUEUE), "delayMs"); // begins it
    // Spelling alone does not find a name another queue uses (a table of those does, see OptionWarnings).
    assert.equal(likelyKey("attempts", ENQUEUE), undefined);
    assert.equal(likelyKey("concurrency", ["groupConcurrency"]), undefined);
    assert.equal(likelyKey("DELAYMS", ENQUEUE), "delayMs"); // another case
    assert.equal(likelyKey("priorty", ENQUEUE), "priority"); // one edit
    assert.equal(likelyKey("dedupKye", ENQUEUE), "dedupKey"); // two edits
    assert.equal(likelyKey("runat", ENQUEUE), "runAt");
    assert.equal(likelyKey("backoff", ENQUEUE), undefined);
    assert.equal(likelyKey("lifo", ENQUEUE), undefined);
    // A short key is allowed one edit, not two; a prefix shared by two keys names neither.
    assert.equal(likelyKey("rn", ENQUEUE), undefined);
    assert.equal(likelyKey("max", ["maxAttempts", "maxDelayMs"]), undefined);
    assert.equal(likelyKey("x".repeat(100), ENQUEUE), undefined);
  });

  it("unknownKeys lists own keys only, in order, and nothing for an object of known keys", () => {
    assert.equal(unknownKeys({ delayMs: 1, priority: 2 }, ENQUEUE), undefined);
    assert.equal(unknownKeys({}, ENQUEUE), undefined);
    assert.deepEqual(unknownKeys({ delay: 1, priority: 2, backoff: 3 }, ENQUEUE), [
      "delay",
      "backoff",
    ]);
    const inherited = Object.create({ delay: 1 }) as object;
    assert.equal(unknownKeys(inherited, ENQUEUE), undefined);
  });

  it("checkOptionsObject with keys refuses an unknown key, naming the likely one", () => {
    assert.throws(
      () => checkOptionsObject({ delay: 1, quux: 2 }, "options", ["delayMs", "priority"]),
      (error: unknown) =>
        error instanceof InvalidArgumentError &&
        error.message ===
          "Expected `options` to have only the keys delayMs, priority; got `delay` (did you mean `delayMs`?), `quux`",
    );
    assert.doesNotThrow(() => checkOptionsObject({ delayMs: 1 }, "options", ["delayMs"]));
    assert.doesNotThrow(() => checkOptionsObject(undefined, "options", ["delayMs"]));
  });
});

describe("the message style", () => {
  it("names the argument, and what it belongs to when `of` is given", () => {
    assert.equal(
      expectationMessage("options.limit", "a number ≥ 1", "0"),
      "Expected `options.limit` to be a number ≥ 1, got 0",
    );
    assert.equal(
      expectationMessage("options.bucket", "a non-empty string", '""', "S3Store"),
      'Expected `options.bucket` of S3Store to be a non-empty string, got ""',
    );
    const error = invalidArgument("body", "a Uint8Array", "text", 'put "k"');
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(error.message, 'Expected `body` of put "k" to be a Uint8Array, got "text"');
    assert.equal(
      invalidArgumentGot("key", "short enough", "300 bytes", "put").message,
      "Expected `key` of put to be short enough, got 300 bytes",
    );
  });
});

describe("checkLogger", () => {
  it("takes a callable logger with warn and error, and refuses a plain function or a partial object", () => {
    const lines: string[] = [];
    const callable = Object.assign(() => {}, {
      warn: (message: string) => lines.push(`warn ${message}`),
      error: (message: string) => lines.push(`error ${message}`),
    });
    checkLogger(callable, "options.logger").warn("w");
    assert.deepEqual(lines, ["warn w"]);
    assert.throws(() => checkLogger(() => {}, "options.logger"), InvalidArgumentError);
    assert.throws(() => checkLogger({ warn() {} }, "options.logger"), InvalidArgumentError);
    assert.throws(() => checkLogger(null, "options.logger"), InvalidArgumentError);
  });
});
