// Deno only: a program written for Deno.serve + Deno.upgradeWebSocket
// (tests/support/migration_program.ts) behaves the same with this
// library's serve and upgradeWebSocket: the same client script runs against
// both and what the clients see is compared.
import assert from "node:assert/strict";
import { serve, upgradeWebSocket } from "../../mod.ts";
import {
  type ServeFunction,
  startChatProgram,
  type UpgradeFunction,
} from "../support/migration_program.ts";
import { describe, test } from "../support/server_deno.ts";

/** One client's view of the conversation. */
type Seen = Array<string>;

function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error("could not connect"));
  });
}

function nextMessage(socket: WebSocket): Promise<MessageEvent> {
  return new Promise((resolve) => {
    socket.addEventListener("message", resolve, { once: true });
  });
}

/** Runs the same conversation against a running program. */
async function converse(port: number): Promise<Seen> {
  const url = `ws://127.0.0.1:${port}/`;
  const seen: Seen = [];
  const alice = await open(url);
  const bob = await open(url);
  // Both are in the set once their open handlers ran: ask for an echo first.
  let reply = nextMessage(alice);
  alice.send(JSON.stringify({ type: "echo", text: "ping" }));
  seen.push(`alice echo ${(await reply).data}`);
  reply = nextMessage(bob);
  bob.send(JSON.stringify({ type: "echo", text: "ping" }));
  seen.push(`bob echo ${(await reply).data}`);
  const toAlice = nextMessage(alice);
  const toBob = nextMessage(bob);
  alice.send(JSON.stringify({ type: "say", text: "hello all" }));
  seen.push(`alice got ${(await toAlice).data}`);
  seen.push(`bob got ${(await toBob).data}`);
  const burst = new Promise<string[]>((resolve) => {
    const sizes: string[] = [];
    const onMessage = (event: MessageEvent) => {
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      sizes.push(`${bytes.length} bytes of ${bytes[0]}..${bytes.at(-1)}`);
      if (sizes.length === 3) {
        bob.removeEventListener("message", onMessage);
        resolve(sizes);
      }
    };
    bob.addEventListener("message", onMessage);
  });
  bob.send(JSON.stringify({ type: "burst" }));
  seen.push(...(await burst).map((line) => `bob burst ${line}`));
  const closed = new Promise<CloseEvent>((resolve) => alice.onclose = resolve);
  alice.close(4001, "done here");
  const event = await closed;
  seen.push(`alice closed ${event.code} "${event.reason}" ${event.wasClean}`);
  // Alice left the set: only Bob hears what he says now, and the idle
  // timeout of 60 s has not closed anybody.
  reply = nextMessage(bob);
  bob.send(JSON.stringify({ type: "say", text: "anyone?" }));
  seen.push(`bob got ${(await reply).data}`);
  const bobClosed = new Promise((resolve) => bob.onclose = resolve);
  bob.close();
  await bobClosed;
  return seen;
}

describe("migrating from Deno.serve + Deno.upgradeWebSocket", () => {
  test("the same program, only the import changed, behaves the same", async () => {
    const native = startChatProgram(
      Deno.serve as unknown as ServeFunction,
      Deno.upgradeWebSocket as unknown as UpgradeFunction,
    );
    let nativeSeen: Seen;
    try {
      nativeSeen = await converse(native.addr.port);
    } finally {
      await native.shutdown();
    }
    const ours = startChatProgram(serve, upgradeWebSocket);
    let oursSeen: Seen;
    try {
      oursSeen = await converse(ours.addr.port);
    } finally {
      await ours.shutdown();
    }
    assert.equal(nativeSeen.length, 9);
    assert.deepEqual(oursSeen, nativeSeen);
    assert.match(nativeSeen[7], /^alice closed 4001 "done here" true$/);
  });
});
