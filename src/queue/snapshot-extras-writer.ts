/**
 * The extras region of a version-2 snapshot (see `snapshot-layout.ts`): the
 * extras and trace context of each job that has any, encoded while the
 * encoder ranks the rows, kept in pieces, then copied into the snapshot in
 * slices.
 */
import type { SliceBudget } from "../util/slices.js";
import { ByteWriter } from "./binary.js";
import { moreExtrasMask, writeMoreExtras, writeProgressExtra } from "./extras-codec.js";
import { flowExtrasMask, writeFlowExtras } from "./flow-codec.js";
import { writeHeaders } from "./records/headers.js";
import { Extra } from "./snapshot-layout.js";
import { type JobExtras, TRACE_STRIDE } from "./table.js";
import { TRACE_BYTES } from "./trace-context.js";

/**
 * Bytes of the extras region encoded, or copied, between two budget checks
 * (fresh pages fault in as they are written; a done job's result may be megabytes).
 */
export const EXTRAS_BYTES_PER_CHECK = 1 << 20;
/**
 * Bytes of encoded extras taken off the writer as one piece. A writer that
 * doubled its buffer instead would copy everything written so far at each
 * growth: tens of megabytes at once (a single 25–35 ms turn) when 100,000s of
 * kept jobs carry a history or a result.
 */
const EXTRAS_PIECE_BYTES = 256 * 1024;

export class ExtrasRegionWriter {
  /** Encodes the extras; its bytes are taken off in pieces of about {@link EXTRAS_PIECE_BYTES}. */
  readonly #extras = new ByteWriter(2 * EXTRAS_PIECE_BYTES);
  #extrasCount = 0;
  /** The extras region's bytes (from the rank pass), in pieces copied into the output in slices. */
  #extrasPieces: Uint8Array[] = [];
  #extrasBytes = 0;
  /** Next piece to copy, and bytes of the region copied so far. */
  #extrasPiece = 0;
  #extrasCopied = 0;

  /** Jobs whose extras the region holds. */
  get count(): number {
    return this.#extrasCount;
  }

  /** The region's size: the bytes taken off the writer so far (see {@link take}). */
  get bytes(): number {
    return this.#extrasBytes;
  }

  /**
   * Encodes the extras of the job at dense position `dense`, with the trace
   * context of row `i` of `trace` (the page's trace column, `null` when the
   * job has none). The bytes written: 0 when it has nothing to keep.
   */
  add(dense: number, extras: JobExtras | undefined, trace: Uint8Array | null, i: number): number {
    const traced = trace !== null;
    const mask =
      (extras === undefined
        ? 0
        : (extras.headers !== undefined ? Extra.Headers : 0) |
          (extras.lastError !== undefined ? Extra.LastError : 0) |
          (extras.dedupKey !== undefined ? Extra.DedupKey : 0) |
          (extras.jobId !== undefined ? Extra.JobId : 0) |
          moreExtrasMask(extras) |
          flowExtrasMask(extras)) | (traced ? Extra.Trace : 0);
    if (mask === 0) return 0;
    const w = this.#extras;
    const extrasAt = w.length;
    w.varint(dense);
    w.varint(mask);
    if (extras !== undefined) {
      if (extras.headers !== undefined) writeHeaders(w, extras.headers);
      if (extras.lastError !== undefined) w.string(extras.lastError);
      if (extras.dedupKey !== undefined) w.string(extras.dedupKey);
      if (extras.jobId !== undefined) w.string(extras.jobId);
      writeMoreExtras(w, extras);
      writeFlowExtras(w, extras);
      writeProgressExtra(w, extras);
    }
    if (traced) w.fixed(trace, i * TRACE_STRIDE + 1, TRACE_BYTES);
    this.#extrasCount++;
    const written = w.length - extrasAt;
    if (w.length >= EXTRAS_PIECE_BYTES) this.take();
    return written;
  }

  /** Takes the extras written since the last piece off the writer. */
  take(): void {
    const piece = this.#extras.take();
    if (piece.byteLength === 0) return;
    this.#extrasPieces.push(piece);
    this.#extrasBytes += piece.byteLength;
  }

  /** The extras encoded by the rank pass into their region at `out[at..]`, a megabyte per budget check. True when done. */
  copy(out: Uint8Array, at: number, budget: SliceBudget): boolean {
    const pieces = this.#extrasPieces;
    let since = 0;
    while (this.#extrasPiece < pieces.length) {
      const piece = pieces[this.#extrasPiece++]!;
      out.set(piece, at + this.#extrasCopied);
      this.#extrasCopied += piece.byteLength;
      since += piece.byteLength;
      if (since >= EXTRAS_BYTES_PER_CHECK) {
        since = 0;
        if (this.#extrasPiece < pieces.length && budget.spent()) return false;
      }
    }
    this.#extrasPieces = [];
    return true;
  }
}
