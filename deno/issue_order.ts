/**
 * Keys in the order they were last set, oldest first, each with a number:
 * what the read schedule of `fair_reads.ts` asked of a `Map` (delete, then
 * set, to move a connection to the end at each read), without its garbage.
 * A long-lived `Map` whose entries are deleted and added on every read
 * builds a new hash table every few hundred reads, and V8 allocates that
 * table in the old generation, where only a full collection frees it
 * (docs/PERFORMANCE.md, "Issue 15: Deno peak RSS"). Here a key keeps one
 * list node for as long as it lives (in a `WeakMap`, set once), and moving
 * it to the end allocates nothing.
 *
 * @module
 */

/** A key's place in the order; `linked` while it is in the list. */
interface OrderNode<K> {
  readonly key: K;
  value: number;
  previous: OrderNode<K> | null;
  next: OrderNode<K> | null;
  linked: boolean;
}

/** Keys ordered by when they were last set, oldest first. */
export class IssueOrder<K extends object> {
  /** Every key's node, linked or not: a key that is gone takes its node. */
  readonly #nodes = new WeakMap<K, OrderNode<K>>();
  #oldest: OrderNode<K> | null = null;
  #newest: OrderNode<K> | null = null;
  #size = 0;

  /** Keys in the order now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Puts `key` at the newest end with `value`, moving it there when it is
   * already in the order.
   *
   * @param key the key
   * @param value its number
   */
  set(key: K, value: number): void {
    let node = this.#nodes.get(key);
    if (node === undefined) {
      node = { key, value, previous: null, next: null, linked: false };
      this.#nodes.set(key, node);
    } else if (node.linked) {
      this.#unlink(node);
    }
    node.value = value;
    node.previous = this.#newest;
    if (this.#newest === null) this.#oldest = node;
    else this.#newest.next = node;
    this.#newest = node;
    node.linked = true;
    this.#size++;
  }

  /**
   * Takes `key` out of the order.
   *
   * @param key the key
   * @returns whether it was in the order
   */
  delete(key: K): boolean {
    const node = this.#nodes.get(key);
    if (node === undefined || !node.linked) return false;
    this.#unlink(node);
    return true;
  }

  /**
   * The number of the oldest key.
   *
   * @returns it, or undefined when the order is empty
   */
  oldest(): number | undefined {
    return this.#oldest?.value;
  }

  /** Takes the oldest key out of the order, if there is one. */
  deleteOldest(): void {
    if (this.#oldest !== null) this.#unlink(this.#oldest);
  }

  #unlink(node: OrderNode<K>): void {
    if (node.previous === null) this.#oldest = node.next;
    else node.previous.next = node.next;
    if (node.next === null) this.#newest = node.previous;
    else node.next.previous = node.previous;
    node.previous = null;
    node.next = null;
    node.linked = false;
    this.#size--;
  }
}
