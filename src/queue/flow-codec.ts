/**
 * The binary form of a job's flow extras in a checkpoint (its parent, or its
 * children with their results), shared by the encoder and the decoder, and
 * their bits in an extras mask. Written after every other extra.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "./binary.js";
import { Extra } from "./snapshot-layout.js";
import type { FlowChild, JobExtras } from "./table.js";

const CHILD_ENDED = 1;
const CHILD_RESULT = 2;
/** Removed before it ended (`FlowChild.removed`); checkpoints from before it never set the bit. */
const CHILD_REMOVED = 4;

/** The mask bits of the flow extras of `extras`. */
export function flowExtrasMask(extras: JobExtras): number {
  return (
    (extras.flowParent !== undefined ? Extra.FlowParent : 0) |
    (extras.flow !== undefined ? Extra.Flow : 0)
  );
}

/** Writes the fields of {@link flowExtrasMask}, in bit order. */
export function writeFlowExtras(w: ByteWriter, extras: JobExtras): void {
  if (extras.flowParent !== undefined) w.id(extras.flowParent);
  if (extras.flow !== undefined) {
    w.varint(extras.flow.waiting);
    w.varint(extras.flow.children.length);
    for (const child of extras.flow.children) {
      w.id(child.id);
      w.string(child.publicId);
      w.u8(
        (child.ended ? CHILD_ENDED : 0) |
          (child.result !== undefined ? CHILD_RESULT : 0) |
          (child.removed === true ? CHILD_REMOVED : 0),
      );
      if (child.result !== undefined) w.bytes(child.result);
    }
  }
}

/** Reads what {@link writeFlowExtras} wrote for `mask` into `extras` (copying bytes). */
export function readFlowExtras(
  r: ByteReader,
  mask: number,
  extras: { -readonly [K in keyof JobExtras]: JobExtras[K] },
): void {
  if (mask & Extra.FlowParent) extras.flowParent = r.id();
  if (mask & Extra.Flow) {
    const waiting = r.varint();
    const count = r.varint();
    if (count > r.remaining) throw new DecodeError(`flow of ${count} children is truncated`);
    const children: FlowChild[] = [];
    let open = 0;
    for (let i = 0; i < count; i++) {
      const id = r.id();
      const publicId = r.string();
      const flags = r.u8();
      if (flags & ~(CHILD_ENDED | CHILD_RESULT | CHILD_REMOVED))
        throw new DecodeError("unknown flow child flags");
      const ended = (flags & CHILD_ENDED) !== 0;
      if (!ended) open++;
      if (flags & CHILD_REMOVED) {
        if (!ended || flags & CHILD_RESULT)
          throw new DecodeError(`removed flow child ${id} is open or has a result`);
        children.push({ id, publicId, ended, removed: true });
      } else
        children.push(
          flags & CHILD_RESULT
            ? { id, publicId, ended, result: Buffer.from(r.bytes()) }
            : { id, publicId, ended },
        );
    }
    if (open !== waiting)
      throw new DecodeError(`flow waits for ${waiting} children, ${open} have not ended`);
    extras.flow = { waiting, children };
  }
}
