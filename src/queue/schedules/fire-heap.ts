/**
 * The next fire time of every schedule that has one, as an indexed binary
 * min-heap: the earliest is read in O(1); setting, moving or removing one
 * schedule's time is O(log n). Ties go to the smaller name, so the order is
 * the same in every process.
 */

interface Slot {
  readonly name: string;
  at: number;
  index: number;
}

function before(a: Slot, b: Slot): boolean {
  return a.at < b.at || (a.at === b.at && a.name < b.name);
}

export class FireHeap {
  readonly #slots: Slot[] = [];
  readonly #byName = new Map<string, Slot>();

  get size(): number {
    return this.#slots.length;
  }

  /** The earliest fire: its schedule's name and time, or `undefined` when empty. */
  peek(): { readonly name: string; readonly at: number } | undefined {
    return this.#slots[0];
  }

  /** The fire time kept for `name`, if any. */
  get(name: string): number | undefined {
    return this.#byName.get(name)?.at;
  }

  /** Sets (or moves) the next fire time of `name`. */
  set(name: string, at: number): void {
    const slot = this.#byName.get(name);
    if (slot === undefined) {
      const added: Slot = { name, at, index: this.#slots.length };
      this.#slots.push(added);
      this.#byName.set(name, added);
      this.#up(added.index);
      return;
    }
    const earlier = at < slot.at;
    slot.at = at;
    if (earlier) this.#up(slot.index);
    else this.#down(slot.index);
  }

  /** Forgets `name` (it has no next fire). */
  delete(name: string): void {
    const slot = this.#byName.get(name);
    if (slot === undefined) return;
    this.#byName.delete(name);
    const last = this.#slots.pop()!;
    if (last === slot) return;
    this.#slots[slot.index] = last;
    last.index = slot.index;
    this.#up(last.index);
    this.#down(last.index);
  }

  clear(): void {
    this.#slots.length = 0;
    this.#byName.clear();
  }

  #up(index: number): void {
    const slots = this.#slots;
    const slot = slots[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = slots[parentIndex]!;
      if (!before(slot, parent)) break;
      slots[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    slots[index] = slot;
    slot.index = index;
  }

  #down(index: number): void {
    const slots = this.#slots;
    const slot = slots[index]!;
    const n = slots.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(slots[right]!, slots[left]!) ? right : left;
      if (!before(slots[child]!, slot)) break;
      slots[index] = slots[child]!;
      slots[index]!.index = index;
      index = child;
    }
    slots[index] = slot;
    slot.index = index;
  }
}
