/**
 * What the simulation knows of the flows it enqueued: which job is under
 * which, and the payload each job was given.
 */
export class FlowTrees {
  /** A flow job's children, by public id. */
  readonly children = new Map<string, string[]>();
  /** The payload each flow job was given (checked on every read while it must exist). */
  readonly payloads = new Map<string, string>();

  /** A flow's jobs: each one's parent (the root's is null) and payload, by public id. */
  add(jobs: ReadonlyMap<string, { parent: string | null; payload: string }>): void {
    for (const [id, { parent, payload }] of jobs) {
      if (this.payloads.has(id)) continue; // known already (found after a reopen, then acknowledged)
      this.payloads.set(id, payload);
      if (parent === null) continue;
      const siblings = this.children.get(parent);
      if (siblings === undefined) this.children.set(parent, [id]);
      else siblings.push(id);
    }
  }

  /** `id` and every job under it in its flow (just `id` for a job of no flow). */
  subtree(id: string): string[] {
    const all = [id];
    for (let i = 0; i < all.length; i++) all.push(...(this.children.get(all[i]!) ?? []));
    return all;
  }
}
