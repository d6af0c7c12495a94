/**
 * What store requests cost: a price per request kind and the estimate for a
 * set of counts. The default is S3 Standard's list price, the store most
 * deployments pay for; pass your own for other stores or regions.
 */
import { checkOptionsObject, invalidArgument } from "../validate.js";
import type { RequestCounts } from "./wrappers/counting.js";
import type { StoreOp } from "./wrappers/ops.js";

/** Price of one request of each kind, in any currency (the default is US dollars). */
export type RequestPrices = Readonly<Record<StoreOp, number>>;

/**
 * Amazon S3 Standard request prices in US dollars (us-east-1 list prices):
 * PUT and LIST $0.005 per 1,000, GET and HEAD $0.0004 per 1,000, DELETE free.
 */
export const S3_STANDARD_REQUEST_PRICES: RequestPrices = Object.freeze({
  put: 0.005 / 1_000,
  list: 0.005 / 1_000,
  get: 0.0004 / 1_000,
  head: 0.0004 / 1_000,
  delete: 0,
});

/** `prices` over the S3 Standard defaults, each a finite number ≥ 0. */
export function resolveRequestPrices(
  prices: Partial<RequestPrices> | undefined,
  arg: string,
): RequestPrices {
  checkOptionsObject(prices, arg);
  if (prices === undefined) return S3_STANDARD_REQUEST_PRICES;
  const resolved = { ...S3_STANDARD_REQUEST_PRICES };
  for (const op of Object.keys(resolved) as StoreOp[]) {
    const price = prices[op];
    if (price === undefined) continue;
    if (typeof price !== "number" || !Number.isFinite(price) || price < 0)
      throw invalidArgument(`${arg}.${op}`, "a finite price ≥ 0", price);
    resolved[op] = price;
  }
  return Object.freeze(resolved);
}

/** The estimated cost of `counts` at `prices`, per request kind. */
export function requestCosts(
  counts: RequestCounts["counts"],
  prices: RequestPrices = S3_STANDARD_REQUEST_PRICES,
): Record<StoreOp, number> {
  return {
    get: counts.get * prices.get,
    put: counts.put * prices.put,
    delete: counts.delete * prices.delete,
    list: counts.list * prices.list,
    head: counts.head * prices.head,
  };
}

/** The estimated total cost of `counts` at `prices`. */
export function estimateRequestCost(
  counts: RequestCounts["counts"],
  prices: RequestPrices = S3_STANDARD_REQUEST_PRICES,
): number {
  const costs = requestCosts(counts, prices);
  return costs.get + costs.put + costs.delete + costs.list + costs.head;
}
