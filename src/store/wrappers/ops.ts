/** The kinds of request an {@link ObjectStore} serves; wrappers filter and count by them. */
export type StoreOp = "get" | "put" | "delete" | "list" | "head";

/** Whether `op` is selected by a filter that may be absent (any), one op, or a list of ops. */
export function opMatches(filter: StoreOp | readonly StoreOp[] | undefined, op: StoreOp): boolean {
  if (filter === undefined) return true;
  return typeof filter === "string" ? filter === op : filter.includes(op);
}
