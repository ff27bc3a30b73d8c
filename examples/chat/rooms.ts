/**
 * Who is in which chat room: usernames are unique per room without regard
 * to case, a room exists while someone is in it, and each member holds a
 * resume token with which a new connection may take the member's place.
 * Pure bookkeeping; the messages themselves travel through the server's
 * pub/sub topics.
 *
 * @module
 */

import { usernameKey } from "./protocol.ts";
import { newSessionToken, tokensMatch } from "./session_token.ts";

/**
 * One member of one room, held by one owner (a connection). Never changed:
 * a resumed membership is a new record with the same name and token, so a
 * record the owner kept is no longer current once it was taken over.
 */
export interface Member<Owner> {
  /** The room (lowercase). */
  readonly room: string;
  /** The name as its first holder spelled it. */
  readonly username: string;
  /** The secret that lets a new connection take this member's place. */
  readonly token: string;
  /** Who holds the name now. */
  readonly owner: Owner;
}

/** The outcome of {@linkcode Rooms.claim}. */
export type Claim<Owner> =
  /** The name was free: a new member with a new token. */
  | { outcome: "joined"; member: Member<Owner> }
  /** The name was held and the token matched: `replaced` held it. */
  | { outcome: "resumed"; member: Member<Owner>; replaced: Owner }
  /** Someone else holds the name (or the token did not match). */
  | { outcome: "taken" };

/** The members of every room that has any. */
export class Rooms<Owner> {
  /** room -> lowercase username -> member. */
  readonly #rooms = new Map<string, Map<string, Member<Owner>>>();

  /** How many rooms have members. */
  get size(): number {
    return this.#rooms.size;
  }

  /**
   * Gives `owner` the name `username` in `room`: when the name is free, or
   * when it is held and `token` is the holder's token (the holder is then
   * replaced, keeping the name's spelling and token).
   *
   * @param room a checked room name
   * @param username a checked username
   * @param owner who asks
   * @param token the resume token presented, or null
   * @returns joined, resumed (with the owner replaced) or taken
   */
  claim(
    room: string,
    username: string,
    owner: Owner,
    token: string | null,
  ): Claim<Owner> {
    const key = usernameKey(username);
    const members = this.#rooms.get(room);
    const holder = members?.get(key);
    if (members === undefined || holder === undefined) {
      const member = { room, username, token: newSessionToken(), owner };
      if (members === undefined) {
        this.#rooms.set(room, new Map([[key, member]]));
      } else members.set(key, member);
      return { outcome: "joined", member };
    }
    if (token === null || !tokensMatch(token, holder.token)) {
      return { outcome: "taken" };
    }
    const member = { ...holder, owner };
    members.set(key, member);
    return { outcome: "resumed", member, replaced: holder.owner };
  }

  /**
   * Removes `member` if it is still current (not taken over since); an
   * empty room is removed.
   *
   * @param member a record returned by {@linkcode claim}
   * @returns whether it was removed
   */
  release(member: Member<Owner>): boolean {
    const members = this.#rooms.get(member.room);
    const key = usernameKey(member.username);
    if (members === undefined || members.get(key) !== member) return false;
    members.delete(key);
    if (members.size === 0) this.#rooms.delete(member.room);
    return true;
  }

  /**
   * The members of `room`, sorted without regard to case.
   *
   * @param room the room
   * @returns a new array of names; empty for a room nobody is in
   */
  members(room: string): string[] {
    const members = this.#rooms.get(room);
    if (members === undefined) return [];
    const keys = [...members.keys()].sort();
    const names: string[] = [];
    for (const key of keys) names.push(members.get(key)!.username);
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
