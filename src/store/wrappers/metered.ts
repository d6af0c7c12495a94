/**
 * `MeteredStore`: the request counter a running queue (or reader) keeps on
 * its store for observability — requests and bytes by kind, cumulative.
 * Unlike the test wrapper it extends, it is invisible in messages: it
 * describes itself as the store it wraps.
 */
import { copyKeyRoom } from "../key-room.js";
import type { ObjectStore } from "../types.js";
import { CountingStore } from "./counting.js";

export class MeteredStore extends CountingStore {
  readonly #describe: () => string;

  constructor(inner: ObjectStore) {
    super(inner);
    this.#describe = () => inner.describe();
    // Keys go to the store it wraps: the same room.
    copyKeyRoom(inner, this);
  }

  override describe(): string {
    return this.#describe();
  }
}
