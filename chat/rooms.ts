/**
 * Who is in which chat room: usernames are unique per room without regard
 * to case, and a room exists while someone is in it. Pure bookkeeping; the
 * messages themselves travel through the server's pub/sub topics.
 *
 * @module
 */

import { usernameKey } from "./protocol.ts";

/** The members of every room that has any. */
export class Rooms {
  /** room -> lowercase username -> username as the member spelled it. */
  readonly #rooms = new Map<string, Map<string, string>>();

  /** How many rooms have members. */
  get size(): number {
    return this.#rooms.size;
  }

  /**
   * Adds `username` to `room` unless the name is taken there.
   *
   * @param room a checked room name
   * @param username a checked username
   * @returns false when someone in the room has that name (any case)
   */
  add(room: string, username: string): boolean {
    let members = this.#rooms.get(room);
    if (members === undefined) {
      members = new Map();
      this.#rooms.set(room, members);
    }
    const key = usernameKey(username);
    if (members.has(key)) return false;
    members.set(key, username);
    return true;
  }

  /**
   * Removes `username` from `room`; an empty room is removed.
   *
   * @param room the room
   * @param username the member
   */
  remove(room: string, username: string): void {
    const members = this.#rooms.get(room);
    if (members === undefined) return;
    members.delete(usernameKey(username));
    if (members.size === 0) this.#rooms.delete(room);
  }

  /**
   * The members of `room`, sorted without regard to case.
   *
   * @param room the room
   * @returns a new array; empty for a room nobody is in
   */
  members(room: string): string[] {
    const members = this.#rooms.get(room);
    if (members === undefined) return [];
    const keys = [...members.keys()].sort();
    const names: string[] = [];
    for (const key of keys) names.push(members.get(key)!);
    return names;
  }

  /**
   * Every room with its members.
   *
   * @returns room name -> sorted members
   */
  snapshot(): Map<string, string[]> {
    const snapshot = new Map<string, string[]>();
    for (const room of this.#rooms.keys()) {
      snapshot.set(room, this.members(room));
    }
    return snapshot;
  }
}
