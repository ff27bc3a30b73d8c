// Deno only: the chat server (chat/server.ts) on 127.0.0.1, driven by
// Deno's own WebSocket client: joining, rooms, broadcast, unique names,
// every validation error, size limit, leaving, and the page's HTTP side.
import assert from "node:assert/strict";
import {
  type ChatServer,
  startChatServer,
} from "../../examples/chat/server.ts";
import { describe, RawClient, test } from "../support/server_deno.ts";
import { type JsonMessage, TestClient } from "../support/chat/ws_client.ts";

type Connect = () => Promise<TestClient>;

/** Runs `body` against a fresh chat server; clients and server always end. */
async function withChat(
  body: (connect: Connect, chat: ChatServer) => Promise<void>,
): Promise<void> {
  const chat = await startChatServer({
    hostname: "127.0.0.1",
    port: 0,
    log: false,
  });
  const clients: TestClient[] = [];
  try {
    await body(async () => {
      const client = await TestClient.open(
        `ws://127.0.0.1:${chat.addr.port}/ws`,
      );
      clients.push(client);
      return client;
    }, chat);
  } finally {
    for (const client of clients) await client.close();
    await chat.shutdown();
  }
}

/** A resume token as the server issues it: 16 bytes in base64url. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{22}$/;

/** Joins and returns the join notice the joiner receives, which carries
 * its resume token. */
async function join(
  client: TestClient,
  username: string,
  room?: string,
  token?: string,
): Promise<JsonMessage> {
  client.sendJson({ type: "join", username, room, token });
  const notice = await client.nextJson();
  assert.equal(notice.type, "join", JSON.stringify(notice));
  assert.match(String(notice.token), TOKEN_SHAPE);
  return notice;
}

/** Drops the `token` field of the joiner's own notice. */
function withoutToken(message: JsonMessage): JsonMessage {
  const { token: _token, ...rest } = message;
  return rest;
}

/** Drops the `ts` field after checking it is a recent time in ms. */
function withoutTs(message: JsonMessage, since: number): JsonMessage {
  const { ts, ...rest } = message;
  assert.equal(typeof ts, "number");
  assert.ok((ts as number) >= since && (ts as number) <= Date.now());
  return rest;
}

describe("chat server", () => {
  test("a join is announced to the room, joiner included, with the members", async () => {
    await withChat(async (connect) => {
      const since = Date.now();
      const alice = await connect();
      const aliceJoined = await join(alice, "Alice");
      assert.deepEqual(withoutTs(withoutToken(aliceJoined), since), {
        type: "join",
        username: "Alice",
        room: "lobby", // the default room
        members: ["Alice"],
      });
      const bob = await connect();
      const expected = {
        type: "join",
        username: "bob",
        room: "lobby",
        members: ["Alice", "bob"], // sorted without regard to case
      };
      const bobJoined = await join(bob, "  bob ", "LOBBY");
      assert.deepEqual(withoutTs(withoutToken(bobJoined), since), expected);
      assert.notEqual(bobJoined.token, aliceJoined.token);
      // Alice's copy of Bob's join has no token: it is Bob's secret.
      assert.deepEqual(withoutTs(await alice.nextJson(), since), expected);
    });
  });

  test("a message reaches everyone in its room, the sender too, and nobody else", async () => {
    await withChat(async (connect) => {
      const [alice, bob, carol] = [
        await connect(),
        await connect(),
        await connect(),
      ];
      await join(alice, "Alice", "lobby");
      await join(bob, "Bob", "lobby");
      await alice.nextJson(); // Bob's join
      await join(carol, "Carol", "dev");
      const since = Date.now();
      alice.sendJson({ type: "message", text: "  Hello!\n" });
      const expected = {
        type: "message",
        username: "Alice",
        room: "lobby",
        text: "Hello!", // trimmed
      };
      assert.deepEqual(withoutTs(await alice.nextJson(), since), expected);
      assert.deepEqual(withoutTs(await bob.nextJson(), since), expected);
      // Carol's next message is her own: Alice's never reached "dev".
      carol.sendJson({ type: "message", text: "anyone?" });
      const own = await carol.nextJson();
      assert.equal(own.text, "anyone?");
      assert.equal(alice.pending + bob.pending, 0);
    });
  });

  test("a username is unique in its room whatever its case, free in others", async () => {
    await withChat(async (connect) => {
      const first = await connect();
      const second = await connect();
      await join(first, "Alice", "lobby");
      second.sendJson({ type: "join", username: " ALICE ", room: "lobby" });
      const refused = await second.nextJson();
      assert.equal(refused.type, "error");
      assert.equal(refused.code, "username_taken");
      assert.equal(typeof refused.message, "string");
      const accepted = await join(second, "alice", "dev");
      assert.deepEqual(accepted.members, ["alice"]);
    });
  });

  test("every invalid input gets an error; the connection stays usable", async () => {
    await withChat(async (connect) => {
      const client = await connect();
      const name = (text: string) => ({ type: "join", username: text });
      const beforeJoin: Array<[string | Uint8Array, string]> = [
        ["not json", "invalid_json"],
        ["", "invalid_json"],
        ["[1, 2]", "invalid_message"],
        ["null", "invalid_message"],
        ["42", "invalid_message"],
        ['"join"', "invalid_message"],
        ["{}", "invalid_message"],
        ['{"type": "dance"}', "invalid_message"],
        ['{"type": 5}', "invalid_message"],
        ['{"type": "join"}', "invalid_username"],
        [JSON.stringify(name(5 as never)), "invalid_username"],
        [JSON.stringify(name("")), "invalid_username"],
        [JSON.stringify(name("   ")), "invalid_username"],
        [JSON.stringify(name("a".repeat(33))), "invalid_username"],
        [JSON.stringify(name("<b>bold</b>")), "invalid_username"],
        [JSON.stringify(name("José")), "invalid_username"],
        [JSON.stringify(name("tab\there")), "invalid_username"],
        [JSON.stringify({ ...name("Al"), room: 7 }), "invalid_room"],
        [JSON.stringify({ ...name("Al"), room: "" }), "invalid_room"],
        [JSON.stringify({ ...name("Al"), room: "two words" }), "invalid_room"],
        [
          JSON.stringify({ ...name("Al"), room: "r".repeat(33) }),
          "invalid_room",
        ],
        [JSON.stringify({ ...name("Al"), token: 5 }), "invalid_token"],
        [JSON.stringify({ ...name("Al"), token: "" }), "invalid_token"],
        [
          JSON.stringify({ ...name("Al"), token: "no spaces" }),
          "invalid_token",
        ],
        [
          JSON.stringify({ ...name("Al"), token: "t".repeat(65) }),
          "invalid_token",
        ],
        ['{"type": "message", "text": "hi"}', "not_joined"],
        ['{"type": "leave"}', "not_joined"],
        [new Uint8Array([1, 2, 3]), "binary_not_supported"],
      ];
      for (const [input, code] of beforeJoin) {
        client.send(input);
        const reply = await client.nextJson();
        assert.equal(reply.type, "error", `${input}`);
        assert.equal(reply.code, code, `${input}: ${reply.message}`);
        assert.equal(typeof reply.message, "string");
      }
      // Longest valid names work.
      await join(client, "a".repeat(32), "r".repeat(32));
      const afterJoin: Array<[unknown, string]> = [
        [{ type: "message" }, "invalid_text"],
        [{ type: "message", text: 12 }, "invalid_text"],
        [{ type: "message", text: "" }, "invalid_text"],
        [{ type: "message", text: " \n\t " }, "invalid_text"],
        [{ type: "message", text: "x".repeat(2001) }, "text_too_long"],
        [
          { type: "join", username: "a".repeat(32), room: "R".repeat(32) },
          "already_joined",
        ],
        [
          { type: "join", username: "Other", room: "r".repeat(32) },
          "already_joined",
        ],
      ];
      for (const [input, code] of afterJoin) {
        client.sendJson(input);
        const reply = await client.nextJson();
        assert.equal(reply.code, code, JSON.stringify(input).slice(0, 80));
      }
      client.send(new Uint8Array(0));
      assert.equal((await client.nextJson()).code, "binary_not_supported");
      // 2,000 characters are counted as code points: 2,000 emoji pass.
      const longest = "\u{1F600}".repeat(2000);
      client.sendJson({ type: "message", text: longest });
      assert.equal((await client.nextJson()).text, longest);
    });
  });

  test("16 KiB messages are read; a bigger one closes the connection with 1009", async () => {
    await withChat(async (connect, chat) => {
      const client = await connect();
      client.send("x".repeat(16 * 1024)); // at the limit: read, not JSON
      assert.equal((await client.nextJson()).code, "invalid_json");
      // One byte over: refused on the frame header, before the payload.
      const raw = new RawClient(
        await Deno.connect({ hostname: "127.0.0.1", port: chat.addr.port }),
      );
      try {
        await raw.send(
          `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${chat.addr.port}\r\n` +
            "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            "Sec-WebSocket-Version: 13\r\n\r\n",
        );
        assert.equal((await raw.readResponse(true)).status, 101);
        // FIN + text, masked, 16-bit length 16,385, then a masking key.
        await raw.send(new Uint8Array([0x81, 0xfe, 0x40, 0x01, 1, 2, 3, 4]));
        const frame = await raw.readFrame();
        assert.equal(frame.opcode, 0x8);
        assert.equal(frame.code, 1009);
      } finally {
        raw.close();
      }
    });
  });

  test("closing leaves the room: the others hear it, an empty room is gone", async () => {
    await withChat(async (connect, chat) => {
      const alice = await connect();
      const bob = await connect();
      await join(alice, "Alice", "lobby");
      await join(bob, "Bob", "lobby");
      await alice.nextJson();
      assert.deepEqual(chat.rooms(), new Map([["lobby", ["Alice", "Bob"]]]));
      await bob.close();
      const since = Date.now() - 1000;
      assert.deepEqual(withoutTs(await alice.nextJson(), since), {
        type: "leave",
        username: "Bob",
        room: "lobby",
        members: ["Alice"],
      });
      await alice.close();
      // Alice's leave is announced to nobody; wait for the server to see it.
      const carol = await connect();
      await join(carol, "Carol", "lobby");
      assert.deepEqual(chat.rooms(), new Map([["lobby", ["Carol"]]]));
    });
  });

  test("leave and a second join: the leaver hears its own leave; joins switch rooms", async () => {
    await withChat(async (connect, chat) => {
      const alice = await connect();
      const bob = await connect();
      await join(alice, "Alice", "lobby");
      await join(bob, "Bob", "lobby");
      await alice.nextJson();
      // A second join switches rooms.
      alice.sendJson({ type: "join", username: "Alice", room: "dev" });
      const left = await alice.nextJson();
      assert.deepEqual([left.type, left.room, left.members], [
        "leave",
        "lobby",
        ["Bob"],
      ]);
      const joined = await alice.nextJson();
      assert.deepEqual([joined.type, joined.room, joined.members], [
        "join",
        "dev",
        ["Alice"],
      ]);
      assert.equal((await bob.nextJson()).type, "leave");
      assert.deepEqual(
        chat.rooms(),
        new Map([["lobby", ["Bob"]], ["dev", ["Alice"]]]),
      );
      // An explicit leave keeps the connection; a later join starts afresh.
      bob.sendJson({ type: "leave" });
      const bobLeft = await bob.nextJson();
      assert.deepEqual([bobLeft.type, bobLeft.username, bobLeft.members], [
        "leave",
        "Bob",
        [],
      ]);
      assert.deepEqual(chat.rooms(), new Map([["dev", ["Alice"]]]));
      bob.sendJson({ type: "message", text: "still here?" });
      assert.equal((await bob.nextJson()).code, "not_joined");
      const back = await join(bob, "Bob", "dev");
      assert.deepEqual(back.members, ["Alice", "Bob"]);
    });
  });

  test("a switch refused for a taken name keeps the old room", async () => {
    await withChat(async (connect, chat) => {
      const alice = await connect();
      const other = await connect();
      await join(alice, "Alice", "lobby");
      await join(other, "alice", "dev");
      alice.sendJson({ type: "join", username: "Alice", room: "dev" });
      assert.equal((await alice.nextJson()).code, "username_taken");
      assert.deepEqual(chat.rooms().get("lobby"), ["Alice"]);
      alice.sendJson({ type: "message", text: "still in the lobby" });
      assert.equal((await alice.nextJson()).room, "lobby");
    });
  });
});

describe("chat server: resuming a session after a dropped connection", () => {
  // The race: a page whose connection dropped rejoins at once, before the
  // server has seen its old connection end. Here the old connection simply
  // stays open, so the server cannot have seen it end: it is the stale one.

  test("the token takes the name back: the stale connection is closed with 4000, the room sees no change", async () => {
    await withChat(async (connect, chat) => {
      const stale = await connect();
      const bob = await connect();
      const token = String((await join(stale, "Alice", "lobby")).token);
      await join(bob, "Bob", "lobby");
      assert.equal((await stale.nextJson()).username, "Bob");

      const since = Date.now();
      const fresh = await connect();
      fresh.sendJson({ type: "join", username: "alice", room: "Lobby", token });
      const resumed = await fresh.nextJson();
      assert.deepEqual(withoutTs(resumed, since), {
        type: "join",
        username: "Alice", // the name keeps its first spelling
        room: "lobby",
        members: ["Alice", "Bob"],
        token, // the same token: a resume that is itself cut can be retried
        resumed: true,
      });
      const closed = await stale.ended();
      assert.equal(closed.code, 4000);
      assert.equal(closed.reason, "session resumed on another connection");
      assert.equal(stale.pending, 0, "the stale connection heard nothing");
      assert.deepEqual(chat.rooms(), new Map([["lobby", ["Alice", "Bob"]]]));

      // The stale connection's end is not Alice leaving: Bob's next message
      // is what the resumed Alice says, and a newcomer sees her.
      fresh.sendJson({ type: "message", text: "back" });
      const said = await bob.nextJson();
      assert.deepEqual([said.type, said.username, said.text], [
        "message",
        "Alice",
        "back",
      ]);
      assert.equal((await fresh.nextJson()).text, "back");
      const carol = await connect();
      assert.deepEqual((await join(carol, "Carol", "lobby")).members, [
        "Alice",
        "Bob",
        "Carol",
      ]);
      assert.equal((await bob.nextJson()).username, "Carol");
      assert.equal((await fresh.nextJson()).username, "Carol");
      assert.equal(bob.pending + fresh.pending, 0);

      // The same token resumes again, from the resumed connection too.
      const third = await connect();
      third.sendJson({ type: "join", username: "Alice", room: "lobby", token });
      const again = await third.nextJson();
      assert.deepEqual([again.resumed, again.token], [true, token]);
      assert.equal((await fresh.ended()).code, 4000);
      assert.deepEqual(chat.rooms().get("lobby"), ["Alice", "Bob", "Carol"]);
    });
  });

  test("without the token, or with another one, the name is still taken", async () => {
    await withChat(async (connect, chat) => {
      const alice = await connect();
      const aliceToken = String((await join(alice, "Alice", "lobby")).token);
      const mallory = await connect();
      const elsewhere = String((await join(mallory, "Alice", "dev")).token);
      const wrongTokens = [
        undefined,
        null,
        elsewhere, // Alice's token in another room
        aliceToken.slice(0, -1), // a prefix
        aliceToken + "A", // longer
        (aliceToken[0] === "A" ? "B" : "A") + aliceToken.slice(1),
      ];
      const claimant = await connect();
      for (const token of wrongTokens) {
        claimant.sendJson({ type: "join", username: "ALICE", token });
        const refused = await claimant.nextJson();
        assert.equal(refused.code, "username_taken", String(token));
      }
      // Alice was not disturbed: her connection is open and still hers.
      alice.sendJson({ type: "message", text: "still mine" });
      const echoed = await alice.nextJson();
      assert.deepEqual([echoed.username, echoed.text], ["Alice", "still mine"]);
      assert.equal(alice.socket.readyState, WebSocket.OPEN);
      assert.deepEqual(
        chat.rooms(),
        new Map([["lobby", ["Alice"]], ["dev", ["Alice"]]]),
      );
    });
  });

  test("the token ends with the membership: after a leave the name can be taken by anyone", async () => {
    await withChat(async (connect, chat) => {
      const alice = await connect();
      const token = String((await join(alice, "Alice", "lobby")).token);
      alice.sendJson({ type: "leave" });
      assert.equal((await alice.nextJson()).type, "leave");
      // A join with a token for a free name is a plain join, with a new
      // token, announced to the room.
      const bob = await connect();
      await join(bob, "Bob", "lobby");
      const back = await connect();
      const rejoined = await join(back, "Alice", "lobby", token);
      assert.equal(rejoined.resumed, undefined);
      assert.notEqual(rejoined.token, token);
      assert.equal((await bob.nextJson()).username, "Alice");
      // The old token no longer names anyone: it takes nothing back.
      back.sendJson({ type: "leave" });
      await back.nextJson();
      await bob.nextJson();
      const someoneElse = await connect();
      await join(someoneElse, "alice", "lobby");
      const late = await connect();
      late.sendJson({ type: "join", username: "Alice", token });
      assert.equal((await late.nextJson()).code, "username_taken");
      late.sendJson({ type: "join", username: "Alice", token: rejoined.token });
      assert.equal((await late.nextJson()).code, "username_taken");
      assert.deepEqual(chat.rooms().get("lobby"), ["alice", "Bob"]);
    });
  });
});

describe("chat server: HTTP", () => {
  test("serves the page with a strict CSP, 404 for other paths, 405 for POST", async () => {
    await withChat(async (_connect, chat) => {
      const base = `http://127.0.0.1:${chat.addr.port}`;
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(
        page.headers.get("content-security-policy") ?? "",
        /default-src 'self'/,
      );
      assert.match(await page.text(), /<script type="module" src="\/app.js">/);
      const script = await fetch(`${base}/app.js`);
      assert.match(script.headers.get("content-type") ?? "", /javascript/);
      assert.match(await script.text(), /new WebSocket\(/);
      const missing = await fetch(`${base}/../chat/server.ts`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      const posted = await fetch(`${base}/`, { method: "POST", body: "x" });
      assert.equal(posted.status, 405);
      await posted.body?.cancel();
      const plain = await fetch(`${base}/ws`);
      assert.ok(plain.status >= 400 && plain.status < 500, `${plain.status}`);
      await plain.body?.cancel();
    });
  });

  test("refuses a WebSocket from a page of another origin", async () => {
    await withChat(async (_connect, chat) => {
      const client = new RawClient(
        await Deno.connect({ hostname: "127.0.0.1", port: chat.addr.port }),
      );
      try {
        await client.send(
          `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${chat.addr.port}\r\n` +
            "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            "Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n\r\n",
        );
        const response = await client.readResponse();
        assert.equal(response.status, 403);
      } finally {
        client.close();
      }
    });
  });
});
