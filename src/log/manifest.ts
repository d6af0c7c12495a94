/**
 * Manifests: small immutable JSON objects `manifest/<id>`; creating id N+1 is
 * the commit of a change. The body is one line of JSON followed by a line with
 * its CRC32, so a damaged manifest is detected instead of trusted.
 */
import { TextDecoder, TextEncoder } from "node:util";
import { crc32 } from "node:zlib";
import { CorruptionError } from "../errors.js";
import { type LogKeys, parseCheckpointName } from "./keys.js";
import type { LogStorage } from "./storage.js";

const MANIFEST_FORMAT = 1;

export interface Manifest {
  /** Writer epoch: bumped by every writer that opens the log. */
  epoch: number;
  /** Checkpoint object name under `checkpoint/`, or null before the first checkpoint. */
  checkpoint: string | null;
  /** Last WAL id covered by the checkpoint; recovery replays the WAL after it. */
  replayAfter: number;
  /** Random token of the writer that created this manifest. */
  writer: string;
  /** Clock time of creation (ms); garbage collection judges ages by it. */
  createdAt: number;
  /**
   * The most WAL creates any writer so far kept in flight (at most
   * `WAL_WINDOW`): how many slots the next opener fences. Manifests written
   * before it existed mean 1.
   */
  walWindow: number;
  /**
   * Written by a writer's clean close, as its last act: it has nothing in
   * flight and will write nothing more, so the next opener need not fence
   * it out.
   */
  closed: boolean;
}

export interface ManifestEntry {
  id: number;
  manifest: Manifest;
}

export function encodeManifest(manifest: Manifest): Uint8Array {
  const json = JSON.stringify({
    format: MANIFEST_FORMAT,
    epoch: manifest.epoch,
    checkpoint: manifest.checkpoint,
    replayAfter: manifest.replayAfter,
    writer: manifest.writer,
    createdAt: manifest.createdAt,
    walWindow: manifest.walWindow,
    closed: manifest.closed,
  });
  const crc = crc32(json).toString(16).padStart(8, "0");
  return new TextEncoder().encode(`${json}\ncrc32:${crc}\n`);
}

export function decodeManifest(key: string, body: Uint8Array): Manifest {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(body);
  const match = /^(.*)\ncrc32:([0-9a-f]{8})\n$/s.exec(text);
  if (match === null) throw new CorruptionError(key, "manifest is truncated or not a manifest");
  const json = match[1]!;
  if (crc32(json) !== Number.parseInt(match[2]!, 16)) {
    throw new CorruptionError(key, "manifest checksum mismatch");
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(json) as Record<string, unknown>;
  } catch (error) {
    throw new CorruptionError(key, "manifest is not valid JSON", { cause: error });
  }
  if (parsed.format !== MANIFEST_FORMAT) {
    throw new CorruptionError(key, `unsupported manifest format ${String(parsed.format)}`);
  }
  const { epoch, checkpoint, replayAfter, writer, createdAt } = parsed;
  const walWindow = parsed.walWindow ?? 1;
  const closed = parsed.closed ?? false;
  const valid =
    isCount(walWindow) &&
    walWindow >= 1 &&
    typeof closed === "boolean" &&
    isCount(epoch) &&
    isCount(replayAfter) &&
    typeof writer === "string" &&
    typeof createdAt === "number" &&
    Number.isFinite(createdAt) &&
    (checkpoint === null ||
      (typeof checkpoint === "string" && parseCheckpointName(checkpoint)?.walId === replayAfter));
  if (!valid) throw new CorruptionError(key, "manifest fields are missing or inconsistent");
  return { epoch, checkpoint, replayAfter, writer, createdAt, walWindow, closed };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Reads manifests. They are immutable, so parsed ones are cached by id. */
export class ManifestReader {
  readonly #cache = new Map<number, Manifest>();

  constructor(
    readonly storage: LogStorage,
    readonly keys: LogKeys,
  ) {}

  /**
   * Ids of every manifest, ascending, so that the last is the newest
   * manifest: `LogStorage.list` answers in key order (it sorts the listing
   * of a store that breaks the `ObjectStore` contract), and ids are
   * zero-padded to one width, so key order is id order.
   */
  async listIds(): Promise<number[]> {
    const objects = await this.storage.list(this.keys.manifestDir);
    const ids: number[] = [];
    for (const { key } of objects) {
      const id = this.keys.idOf(this.keys.manifestDir, key);
      if (id !== null) ids.push(id);
    }
    return ids;
  }

  async read(id: number): Promise<Manifest> {
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    const key = this.keys.manifest(id);
    const body = await this.storage.get(key);
    if (body === null) throw new CorruptionError(key, "listed manifest is missing");
    const manifest = decodeManifest(key, body);
    this.#cache.set(id, manifest);
    return manifest;
  }

  /** Remember a manifest we created ourselves (saves reading it back). */
  remember(id: number, manifest: Manifest): void {
    this.#cache.set(id, manifest);
  }

  /** Whether {@link read} would answer without a GET. */
  isCached(id: number): boolean {
    return this.#cache.has(id);
  }

  forget(id: number): void {
    this.#cache.delete(id);
  }

  async newest(): Promise<ManifestEntry | null> {
    const ids = await this.listIds();
    const id = ids.at(-1);
    return id === undefined ? null : { id, manifest: await this.read(id) };
  }
}
