import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import {
  estimateRequestCost,
  requestCosts,
  S3_STANDARD_REQUEST_PRICES,
} from "../../src/store/request-prices.js";
import type { RequestCounts } from "../../src/store/wrappers/counting.js";

const requests: RequestCounts = {
  counts: { get: 1_000, put: 2_000, delete: 5, list: 10, head: 0 },
  bytesRead: 123,
  bytesWritten: 456,
  requests: 3_015,
};

/** 2,000 puts and 10 lists at $0.005 per 1,000, 1,000 gets at $0.0004 per 1,000. */
const AT_S3 = (2_010 * 0.005 + 1_000 * 0.0004) / 1_000;

describe("estimateRequestCost", { timeout: 10_000 }, () => {
  it("prices the whole storeRequests() result as it prices its counts", () => {
    assert.ok(Math.abs(estimateRequestCost(requests.counts) - AT_S3) < 1e-12);
    assert.equal(estimateRequestCost(requests), estimateRequestCost(requests.counts));
    assert.deepEqual(requestCosts(requests), requestCosts(requests.counts));
  });

  it("merges partial prices over S3 Standard's, as the telemetry and dashboard options do", () => {
    const cost = estimateRequestCost(requests, { put: 1 });
    const expected =
      2_000 * 1 + 10 * S3_STANDARD_REQUEST_PRICES.list + 1_000 * S3_STANDARD_REQUEST_PRICES.get;
    assert.ok(Math.abs(cost - expected) < 1e-9, String(cost));
    assert.deepEqual(requestCosts(requests.counts, { delete: 2 }), {
      ...requestCosts(requests.counts),
      delete: 10,
    });
  });

  it("refuses bad counts and prices with InvalidArgumentError instead of returning NaN", () => {
    for (const [counts, prices, message] of [
      [undefined, undefined, /^Expected `counts` to be request counts/],
      [42, undefined, /^Expected `counts` to be request counts/],
      [{ get: 1 }, undefined, /^Expected `counts\.put` to be a count ≥ 0, got undefined/],
      [
        { ...requests, counts: { ...requests.counts, list: Number.NaN } },
        undefined,
        /^Expected `counts\.counts\.list` to be a count ≥ 0, got NaN/,
      ],
      [requests, { put: -1 }, /^Expected `prices\.put` to be a finite price ≥ 0, got -1/],
      [requests, "cheap", /^Expected `prices` to be an options object/],
      // A misspelt kind would silently keep the default price of the kind meant.
      [
        requests,
        { PUT: 0 },
        /^Expected `prices` to have only the keys get, put, delete, list, head; got `PUT`/,
      ],
    ] as const)
      for (const price of [estimateRequestCost, requestCosts])
        assert.throws(
          () => price(counts as never, prices as never),
          (error: unknown) => error instanceof InvalidArgumentError && message.test(error.message),
          `${price.name}(${JSON.stringify(counts)}, ${JSON.stringify(prices)})`,
        );
  });
});
