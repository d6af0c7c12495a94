/**
 * A store that lists in small pages, as S3 lists in pages of 1,000 keys, and
 * lets a test act between two pages of one listing: where a listing that is
 * no snapshot can miss an object created behind its cursor.
 */
import type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "../../src/store/types.js";

/** Where a listing stands when {@link PagedStore.betweenPages} is called. */
export interface PageBoundary {
  prefix: string;
  /** The cursor the next page starts after (the last key of the page before). */
  startAfter: string;
  /** Which listing of `prefix` this is, from 1. */
  listing: number;
}

export class PagedStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #pageSize: number;
  /** Cursors handed out and not yet followed: a request with one continues a listing. */
  readonly #cursors = new Set<string>();
  readonly #listings = new Map<string, number>();
  readonly #pages = new Map<string, number>();
  /** Runs before the store serves a page after the first of a listing. */
  betweenPages: ((boundary: PageBoundary) => Promise<void>) | null = null;

  constructor(inner: ObjectStore, pageSize: number) {
    this.#inner = inner;
    this.#pageSize = pageSize;
  }

  /** Listings of `prefix` started so far. */
  listings(prefix: string): number {
    return this.#listings.get(prefix) ?? 0;
  }

  /** Pages of `prefix` served so far, over all its listings. */
  pages(prefix: string): number {
    return this.#pages.get(prefix) ?? 0;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const { startAfter } = options;
    const cursor = startAfter === undefined ? undefined : `${prefix}\n${startAfter}`;
    if (cursor !== undefined && this.#cursors.delete(cursor)) {
      await this.betweenPages?.({
        prefix,
        startAfter: startAfter!,
        listing: this.listings(prefix),
      });
    } else {
      this.#listings.set(prefix, this.listings(prefix) + 1);
    }
    this.#pages.set(prefix, this.pages(prefix) + 1);
    const page = await this.#inner.list(prefix, { ...options, limit: this.#pageSize });
    if (page.nextStartAfter !== undefined) this.#cursors.add(`${prefix}\n${page.nextStartAfter}`);
    return page;
  }

  get(key: string): Promise<StoredObject | null> {
    return this.#inner.get(key);
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    return this.#inner.put(key, body, options);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    if (this.#inner.head !== undefined) return this.#inner.head(key);
    const object = await this.#inner.get(key);
    return object === null ? null : { key, size: object.body.byteLength };
  }

  describe(): string {
    return `paged+${this.#inner.describe()}`;
  }
}
