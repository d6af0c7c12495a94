/**
 * Sections of a version-2 snapshot after its regions, for state beside the
 * job table (schedules now; more kinds later). Each is
 *
 *     varint kind | varint length | bytes
 *
 * so a decoder that meets a kind it does not know refuses the snapshot
 * (written by a newer release) instead of dropping state, and a snapshot
 * written before sections existed (nothing after the regions) decodes as
 * having none. Kinds are never renumbered: 21 = the KV namespace (written last,
 * in slices, by `snapshot-kv.ts`), 28 = schedules, 29 = tombstones of removed
 * schedules (name and `firedUpTo`, oldest removal first).
 */
import { ByteReader, ByteWriter, DecodeError } from "./binary.js";
import { readScheduleDefinition, writeScheduleDefinition } from "./schedules/codec.js";
import type { State } from "./state.js";

/** Section kinds. */
export const Section = { Kv: 21, Schedules: 28, ScheduleTombstones: 29 } as const;

/**
 * The sections of `state` as of now (called at the snapshot's cut; they are
 * small and copied whole).
 */
export function encodeSections(state: State): Uint8Array {
  const out = new ByteWriter(64);
  if (state.schedules.size > 0) {
    const w = new ByteWriter(256);
    w.varint(state.schedules.size);
    for (const schedule of state.schedules.values()) {
      writeScheduleDefinition(w, schedule);
      w.varint(schedule.firedUpTo);
    }
    const bytes = w.finish();
    out.varint(Section.Schedules);
    out.bytes(bytes);
  }
  if (state.scheduleTombstones.size > 0) {
    const w = new ByteWriter(256);
    w.varint(state.scheduleTombstones.size);
    for (const [name, firedUpTo] of state.scheduleTombstones) {
      w.string(name);
      w.varint(firedUpTo);
    }
    out.varint(Section.ScheduleTombstones);
    out.bytes(w.finish());
  }
  return out.finish();
}

/**
 * Reads the sections in `bytes` into `state`, but for the KV section, whose
 * body comes back (a view) to be loaded in slices. Throws `DecodeError`.
 */
export function decodeSections(bytes: Uint8Array, state: State): { kv: Uint8Array | null } {
  let kv: Uint8Array | null = null;
  const r = new ByteReader(bytes);
  const seen = new Set<number>();
  while (r.remaining > 0) {
    const kind = r.varint();
    const body = new ByteReader(r.bytes());
    if (seen.has(kind)) throw new DecodeError(`snapshot has section ${kind} twice`);
    seen.add(kind);
    switch (kind) {
      case Section.Kv:
        kv = body.raw(body.remaining);
        break;
      case Section.Schedules: {
        const count = body.varint();
        for (let i = 0; i < count; i++) {
          const definition = readScheduleDefinition(body);
          const firedUpTo = body.varint();
          if (state.schedules.has(definition.name))
            throw new DecodeError(
              `snapshot holds schedule ${JSON.stringify(definition.name)} twice`,
            );
          state.schedules.set(definition.name, { ...definition, firedUpTo });
        }
        break;
      }
      case Section.ScheduleTombstones: {
        const count = body.varint();
        for (let i = 0; i < count; i++) {
          const name = body.string();
          const firedUpTo = body.varint();
          if (state.scheduleTombstones.has(name))
            throw new DecodeError(`snapshot holds the tombstone of ${JSON.stringify(name)} twice`);
          state.scheduleTombstones.set(name, firedUpTo);
        }
        break;
      }
      default:
        throw new DecodeError(
          `snapshot has an unknown section ${kind} (written by a newer release?)`,
        );
    }
    if (body.remaining !== 0)
      throw new DecodeError(`${body.remaining} bytes after snapshot section ${kind}`);
  }
  return { kv };
}
