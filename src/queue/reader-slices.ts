/**
 * A reader's work in slices, with turns of the event loop between them: how
 * long a slice runs (a reopen applies its records in such slices too), and
 * the working out of its schedules' order and next fire times, in the
 * background after an open or a reopen (so `listSchedules` only builds the
 * list) or as the dashboard's listing in slices asks.
 */
import type { ReadLogOptions } from "../log/index.js";
import { SLICE_MS, SliceBudget, sliceClockOf } from "../util/slices.js";
import type { ScheduleInfo } from "./schedules/types.js";
import { listScheduleInfos, SchedulePlanning } from "./schedules/views.js";
import type { State } from "./state.js";

/** One reader's work in slices; a reopen that takes the reader's state on stops it. */
export class ReaderSlices {
  /** How long a slice runs (a test shortens it; a reopen carries it on to the new reader). */
  ms = SLICE_MS;
  /** Schedules' next fire times worked out in the background (stopped by a reopen that hands its state on). */
  #planning: SchedulePlanning | undefined;
  /** The reader's options, which may name the clock slices are timed by. */
  readonly #options: ReadLogOptions;

  constructor(options: ReadLogOptions) {
    this.#options = options;
  }

  /** A budget for one slice. */
  budget(): SliceBudget {
    return new SliceBudget(this.ms, sliceClockOf(this.#options));
  }

  /**
   * Works out the order and next fire times of `state`'s schedules, in
   * slices; resolves once done or stopped. `undefined` when it holds none.
   */
  plan(state: State): Promise<void> | undefined {
    if (state.schedules.size === 0) return undefined;
    this.#planning = new SchedulePlanning(state, this.budget());
    return this.#planning.done();
  }

  /** Resolves when the background planning is done or stopped (`undefined` with none). */
  planned(): Promise<void> | undefined {
    return this.#planning?.done();
  }

  /** `state`'s schedules as `listSchedules` lists them, worked out and listed in slices. */
  listInSlices(state: State): Promise<ScheduleInfo[]> {
    // What it lists it works out itself: the background planning would only look again.
    this.#planning?.stop();
    return listScheduleInfos(state, undefined, this.budget());
  }

  /** Plans nothing more (a reopen handing the state on). */
  stop(): void {
    this.#planning?.stop();
  }
}
