/** Schedules as `listSchedules` reports them (the writer's and the reader's). */

import { messageOf } from "../../util/message.js";
import { nextTurn, SliceBudget, sortInSlices } from "../../util/slices.js";
import { idleTurn, keptOpenUntil } from "../../util/timers.js";
import type { State } from "../state.js";
import { nextFireAfter, StoredCrons } from "./timing.js";
import type { Schedule, ScheduleInfo } from "./types.js";
import { scheduleOptions } from "./validate.js";

/** One schedule as reported, `next` its next fire time (`null`: none, or unknown). */
export function scheduleInfo(s: Schedule, next: number | null): ScheduleInfo {
  const { name, timezone, queue, catchUp, firedUpTo } = s;
  // A plain copy (`Uint8Array.from` walks a Buffer through its iterator).
  const payload = new Uint8Array(s.payload);
  // Two literals rather than one with a spread in it, whose later properties
  // are defined one runtime call each: a listing builds thousands.
  const info: ScheduleInfo =
    s.cron === undefined
      ? { name, everyMs: s.everyMs!, timezone, queue, payload, catchUp, nextRunAt: next, firedUpTo }
      : { name, cron: s.cron, timezone, queue, payload, catchUp, nextRunAt: next, firedUpTo };
  if (s.options !== undefined) info.options = scheduleOptions(s.options);
  if (s.startAt !== undefined) info.startAt = s.startAt;
  if (s.endAt !== undefined) info.endAt = s.endAt;
  return info;
}

/**
 * One schedule as listed. A schedule whose fire times cannot be computed here
 * (a time zone or cron expression this host's runtime does not know, e.g. a
 * store written where the time-zone data is newer) is listed with
 * `nextRunAt: null` and its `error`, not thrown for the whole list.
 */
function listedInfo(s: Schedule, nextOf: (s: Schedule) => number | null): ScheduleInfo {
  let next: number | null;
  try {
    next = nextOf(s);
  } catch (error) {
    const info = scheduleInfo(s, null);
    info.error = messageOf(error);
    return info;
  }
  return scheduleInfo(s, next);
}

/**
 * The next fire time of stored `s`, checked as a queue plans it (a cron that
 * never fires in its zone throws, rather than searching to the year 3000).
 * `crons`: the parsed crons (and zones' offset formats) shared by one
 * listing. Kept in `state.storedNextFires` for the schedule object.
 */
function nextOfStored(state: State, s: Schedule, crons: StoredCrons): number | null {
  let known = state.storedNextFires.get(s);
  if (known === undefined) {
    try {
      known = { next: nextFireAfter(s, s.firedUpTo, crons.of(s)) };
    } catch (error) {
      known = { error };
    }
    state.storedNextFires.set(s, known);
  }
  if ("error" in known) throw known.error;
  return known.next;
}

const byName = (a: Schedule, b: Schedule): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * The schedules of `state` in the order `state.scheduleOrder` keeps, or
 * `null` when it does not hold exactly their names (one was added or
 * removed since it was sorted): same count, and each name still there.
 */
function keptOrder(state: State): Schedule[] | null {
  const names = state.scheduleOrder;
  if (names.length !== state.schedules.size) return null;
  const ordered = new Array<Schedule>(names.length);
  for (let i = 0; i < names.length; i++) {
    const s = state.schedules.get(names[i]!);
    if (s === undefined) return null;
    ordered[i] = s;
  }
  return ordered;
}

/** Keeps `sorted` (every schedule of `state`, by name) as the state's listing order. */
function keepOrder(state: State, sorted: readonly Schedule[]): void {
  state.scheduleOrder = sorted.map((s) => s.name);
}

/** Every schedule of `state`, by name, at once (a reader's snapshot: no queue to hold up). */
export function listScheduleInfosNow(state: State): ScheduleInfo[] {
  let schedules = keptOrder(state);
  if (schedules === null) {
    schedules = [...state.schedules.values()].sort(byName);
    keepOrder(state, schedules);
  }
  const crons = new StoredCrons();
  const nextOf = (stored: Schedule): number | null => nextOfStored(state, stored, crons);
  return schedules.map((s) => listedInfo(s, nextOf));
}

/**
 * Works out the listing order and the next fire time of every schedule of
 * `state` (a reader's snapshot; its `open` and `reopen` wait for it): in
 * slices of `budget`, from the turn after it is made, yielding through
 * unref'd timers (it never holds a process open unless {@link done} is
 * awaited), until done or {@link stop}ped. A later
 * {@link listScheduleInfosNow} finds what it worked out (and sorts nothing),
 * and works out the rest itself.
 */
export class SchedulePlanning {
  #stopped = false;
  /** Ends the wait for the turn planning is waiting for (see {@link stop}). */
  #wake: (() => void) | undefined = undefined;
  readonly #done: Promise<void>;

  constructor(state: State, budget: SliceBudget) {
    // Handled here: nothing need await it, and an error past the slices' `try` must not go unhandled.
    this.#done = this.#plan(state, budget).catch(() => {});
  }

  /** Resolves when every schedule is worked out, or planning stopped; holds the process open meanwhile. */
  done(): Promise<void> {
    return keptOpenUntil(this.#done);
  }

  /** Plans nothing more (what is worked out stays kept); ends a wait for a turn at once. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  /** The next idle turn, or less: {@link stop} ends the wait. */
  #idleTurn(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      idleTurn().then(resolve);
    });
  }

  async #plan(state: State, budget: SliceBudget): Promise<void> {
    await this.#idleTurn();
    if (this.#stopped) return;
    budget.start();
    // Schedule objects are replaced, never changed, by `apply`: planning an old one is only wasted.
    let schedules = keptOrder(state);
    if (schedules === null) {
      // Stopping ends the sort where it waits (the rejection ends the planning).
      const turn = async (): Promise<void> => {
        await this.#idleTurn();
        if (this.#stopped) throw new Error("schedule planning stopped");
      };
      schedules = await sortInSlices([...state.schedules.values()], byName, budget, turn);
      // A reopen stops planning before it changes the state: a stopped sort may be stale.
      if (this.#stopped) return;
      keepOrder(state, schedules);
    }
    const crons = new StoredCrons();
    for (const s of schedules) {
      if (budget.spent()) {
        await this.#idleTurn();
        budget.start();
      }
      if (this.#stopped) return;
      try {
        nextOfStored(state, s, crons);
      } catch {
        // Kept with the schedule: its listing reports it.
      }
    }
  }
}

/**
 * Every schedule of `state`, by name, as they were when called. Working out
 * a cron schedule's next fire time costs the parser real time, so the list
 * is built in slices of `budget`, with turns of the event loop between them:
 * thousands of schedules never stall the queue (or the dashboard page that
 * lists them). The order the state keeps is used when it still holds the
 * state's names (else the list is sorted, in slices, and kept); without
 * `nextOf`, fire times are the state's stored ones, worked out as needed.
 */
export async function listScheduleInfos(
  state: State,
  nextOf?: (s: Schedule) => number | null,
  budget = new SliceBudget(),
): Promise<ScheduleInfo[]> {
  const crons = new StoredCrons();
  const nextOfListed = nextOf ?? ((s: Schedule) => nextOfStored(state, s, crons));
  // Schedule objects are replaced, never changed, by `apply`: taken now, this is a snapshot.
  let schedules = keptOrder(state);
  if (schedules === null) {
    schedules = await sortInSlices([...state.schedules.values()], byName, budget);
    keepOrder(state, schedules);
  }
  const infos: ScheduleInfo[] = [];
  budget.start();
  for (const s of schedules) {
    if (budget.spent()) {
      await nextTurn();
      budget.start();
    }
    infos.push(listedInfo(s, nextOfListed));
  }
  return infos;
}
