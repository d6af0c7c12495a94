import type { State } from "../../src/queue/state.js";

/** Counts the ids `state` parses while `findNamed` looks for a record's job. */
export function countNamedParses(state: State): { count: () => number; stop: () => void } {
  const idKey = state.idKeyIfUlid.bind(state);
  const findNamed = state.findNamed.bind(state);
  let inFind = false;
  let parsed = 0;
  state.idKeyIfUlid = (id) => {
    if (inFind) parsed++;
    return idKey(id);
  };
  state.findNamed = (id) => {
    inFind = true;
    try {
      return findNamed(id);
    } finally {
      inFind = false;
    }
  };
  return {
    count: () => parsed,
    stop: () => {
      state.idKeyIfUlid = idKey;
      state.findNamed = findNamed;
    },
  };
}
