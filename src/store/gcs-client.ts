/** The parts of `@google-cloud/storage`'s `Storage`, `Bucket` and `File` that {@link GcsStore} uses, as types: an injected client must fit them. */

/** The object metadata fields {@link GcsStore} reads. */
export interface GcsObjectMetadata {
  /** The object's size in bytes (a decimal string in the JSON API). */
  size?: string | number;
  /** The object's etag. */
  etag?: string;
}

/** The part of `@google-cloud/storage`'s `File` that {@link GcsStore} uses. */
export interface GcsFile {
  /** The object's name in the bucket. */
  name: string;
  /** The metadata the listing returned with it. */
  metadata: GcsObjectMetadata;
  /** Reads the object's bytes (used when there is no `createReadStream`). */
  download(options?: object): Promise<[Buffer]>;
  /**
   * The object's bytes as a stream that emits `response` with the answer's
   * headers first (a `File` of the client library has it). Used instead of
   * `download` when present: the store then checks that the answer is an
   * object's (it carries `x-goog-generation`, `x-goog-hash` or
   * `x-goog-stored-content-length`).
   */
  createReadStream?(options?: object): NodeJS.ReadableStream;
  /** Writes the object; with `ifGenerationMatch: 0` only if it does not exist. */
  save(
    data: Uint8Array,
    options: { resumable: boolean; preconditionOpts?: { ifGenerationMatch: number } },
  ): Promise<void>;
  /** Deletes the object. */
  delete(options?: object): Promise<unknown>;
  /** Reads the object's metadata without its bytes. */
  getMetadata(): Promise<[GcsObjectMetadata, ...unknown[]]>;
}

/** The listing query {@link GcsStore} sends (one page, no auto-pagination). */
export interface GcsListQuery {
  /** Only names that start with this. */
  prefix: string;
  /** Only names at or after this one. */
  startOffset?: string;
  /** Most objects on the page. */
  maxResults: number;
  /** Always `false`: one page per call. */
  autoPaginate: false;
}

/** The part of `@google-cloud/storage`'s `Bucket` that {@link GcsStore} uses. */
export interface GcsBucket {
  /** A handle of one object (no request is made). */
  file(name: string): GcsFile;
  /** One page of the bucket's objects, and the query of the next page. */
  getFiles(
    query: GcsListQuery,
  ): Promise<[GcsFile[], { pageToken?: string } | null | undefined, ...unknown[]]>;
  /**
   * One JSON API request, its parsed body to `callback` (a `Bucket` of the
   * client library has it). Used instead of `getFiles` when present: `list`
   * sends `objects.list` itself and checks that the answer is a listing (an
   * `items` array, or a `kind` such as `storage#objects`).
   */
  request?(
    options: { uri: string; qs: Record<string, unknown> },
    callback: (err: Error | null, body?: unknown) => void,
  ): void;
}

/** The part of `@google-cloud/storage`'s `Storage` that {@link GcsStore} uses; a `Storage` fits. */
export interface GcsClient {
  /** A handle of one bucket (no request is made). */
  bucket(name: string): GcsBucket;
}
