/**
 * A first-in first-out queue with O(1) `shift`. `Array.prototype.shift`
 * moves every remaining item, which costs quadratic time on a long queue;
 * here items are read from a head index instead, and the slots before it
 * are cut off in batches. A cut happens when the queue empties, or once the
 * head passed {@linkcode FIFO_COMPACT_AFTER} slots and at least half of the
 * array, so a queue that never drains completely (a stream always a little
 * ahead of its reader) stays bounded too, at amortized O(1) per item.
 *
 * @module
 */

/** Slots read before the array may be cut: 1024. */
export const FIFO_COMPACT_AFTER = 1024;

/** Slots of an emptied queue's array kept for its next items: 16. */
const FIFO_KEPT_SLOTS = 16;

/** A FIFO of items; shifted slots are cleared so their items can be collected. */
export class Fifo<T> {
  #items: Array<T | undefined> = [];
  #head = 0;
  /** Where the next item goes: slots from here on are free. */
  #tail = 0;

  /** How many items wait. */
  get length(): number {
    return this.#tail - this.#head;
  }

  /** Slots held: the items waiting plus those read and not yet cut off. */
  get slots(): number {
    return this.#items.length;
  }

  /**
   * Adds an item at the end.
   *
   * @param item the item
   */
  push(item: T): void {
    const items = this.#items;
    if (this.#tail < items.length) items[this.#tail] = item;
    else items.push(item);
    this.#tail++;
  }

  /**
   * The item at `index` from the front, without removing it.
   *
   * @param index 0 for the first item
   * @returns the item, or undefined past the end
   */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.length) return undefined;
    return this.#items[this.#head + index];
  }

  /**
   * Removes and returns the first item.
   *
   * @returns the item, or undefined when the queue is empty
   */
  shift(): T | undefined {
    const items = this.#items;
    if (this.#head === this.#tail) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head === this.#tail) {
      // A short array is kept (its slots are empty): a queue that fills
      // and drains once per message then allocates nothing.
      if (items.length > FIFO_KEPT_SLOTS) this.#items = [];
      this.#head = 0;
      this.#tail = 0;
    } else if (
      this.#head >= FIFO_COMPACT_AFTER && this.#head * 2 >= this.#tail
    ) {
      this.#items = items.slice(this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
    return item;
  }

  /** Removes every item. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#tail = 0;
  }
}
