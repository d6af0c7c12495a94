/**
 * Rebuilding the state at open (writer or reader): decode the checkpoint,
 * apply the records after it, and report damage as `CorruptionError`.
 */
import { CorruptionError } from "../errors.js";
import { ApplyError, apply } from "./apply.js";
import { DecodeError } from "./binary.js";
import { decodeRecord } from "./records.js";
import { decodeSnapshot } from "./snapshot.js";
import { State } from "./state.js";

/** Rebuild the state from the newest checkpoint plus the records after it. */
export function restoreState(
  path: string,
  checkpoint: Uint8Array | null,
  records: readonly Uint8Array[],
): State {
  let state: State;
  try {
    state = checkpoint === null ? new State() : decodeSnapshot(checkpoint);
  } catch (error) {
    if (error instanceof DecodeError)
      throw new CorruptionError(`${path}/checkpoint`, `queue snapshot: ${error.message}`, {
        cause: error,
      });
    throw error;
  }
  for (let i = 0; i < records.length; i++) {
    try {
      apply(state, decodeRecord(records[i]!));
    } catch (error) {
      if (error instanceof DecodeError || error instanceof ApplyError)
        throw new CorruptionError(
          `${path}/wal`,
          `record ${i} after the checkpoint: ${error.message}`,
          {
            cause: error,
          },
        );
      throw error;
    }
  }
  return state;
}
