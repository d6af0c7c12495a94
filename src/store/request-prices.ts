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

const STORE_OPS: readonly StoreOp[] = ["get", "put", "delete", "list", "head"];

/** `prices` over the S3 Standard defaults, each a finite number ≥ 0; a key that is no request kind is refused. */
export function resolveRequestPrices(
  prices: Partial<RequestPrices> | undefined,
  arg: string,
): RequestPrices {
  // A misspelt kind (`PUT`) would leave that kind at the default price unnoticed.
  checkOptionsObject(prices, arg, STORE_OPS);
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

/**
 * The request counts of `counts`, checked: `queue.storeRequests()` as it
 * is, or its `counts` (a count of each request kind, a finite number ≥ 0).
 */
function checkCounts(
  counts: RequestCounts | RequestCounts["counts"],
  arg: string,
): RequestCounts["counts"] {
  if (typeof counts !== "object" || counts === null)
    throw invalidArgument(arg, "request counts (`queue.storeRequests()` or its `counts`)", counts);
  // The whole `storeRequests()` result carries the counts by kind in `counts`.
  const inner = (counts as Partial<RequestCounts>).counts;
  const byKind = typeof inner === "object" && inner !== null ? inner : counts;
  const where = byKind === counts ? arg : `${arg}.counts`;
  for (const op of STORE_OPS) {
    const n = (byKind as Partial<Record<StoreOp, unknown>>)[op];
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0)
      throw invalidArgument(`${where}.${op}`, "a count ≥ 0", n);
  }
  return byKind as RequestCounts["counts"];
}

/** The cost of `counts` at `prices` per request kind, unchecked (both are the queue's own). */
export function costsOf(
  counts: RequestCounts["counts"],
  prices: RequestPrices,
): Record<StoreOp, number> {
  return {
    get: counts.get * prices.get,
    put: counts.put * prices.put,
    delete: counts.delete * prices.delete,
    list: counts.list * prices.list,
    head: counts.head * prices.head,
  };
}

/** The total of {@link costsOf}. */
export function totalCostOf(counts: RequestCounts["counts"], prices: RequestPrices): number {
  const costs = costsOf(counts, prices);
  return costs.get + costs.put + costs.delete + costs.list + costs.head;
}

/**
 * The estimated cost of `counts` at `prices`, per request kind. `counts` is
 * `queue.storeRequests()` (or a reader's) or its `counts`; `prices` may
 * give some kinds only, the others are S3 Standard's (as the telemetry and
 * dashboard options take them).
 *
 * @throws InvalidArgumentError when a count or price is not a finite number ≥ 0.
 */
export function requestCosts(
  counts: RequestCounts | RequestCounts["counts"],
  prices?: Partial<RequestPrices>,
): Record<StoreOp, number> {
  return costsOf(checkCounts(counts, "counts"), resolveRequestPrices(prices, "prices"));
}

/**
 * The estimated total cost of `counts` at `prices` (see {@link requestCosts}):
 * `estimateRequestCost(queue.storeRequests())` prices a queue's requests at
 * S3 Standard's list prices.
 *
 * @throws InvalidArgumentError when a count or price is not a finite number ≥ 0.
 */
export function estimateRequestCost(
  counts: RequestCounts | RequestCounts["counts"],
  prices?: Partial<RequestPrices>,
): number {
  return totalCostOf(checkCounts(counts, "counts"), resolveRequestPrices(prices, "prices"));
}
