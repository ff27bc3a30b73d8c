// Deno only: two chat server processes sharing one real redis-server (both
// started here, on free loopback ports): messages in every room reach the
// clients of both, member lists are the union, usernames are unique across
// processes, a late joiner gets the room's history and a client that
// reconnects with `since` gets exactly what it missed; a killed process's
// clients resume on the other, and Redis restarted mid-traffic loses no
// message it acknowledged and duplicates none.
import assert from "node:assert/strict";
import { RedisServer, skipWithoutRedis } from "../support/redis_server_deno.ts";
import { ChatProcess } from "../support/chat/cluster_deno.ts";
import { type JsonMessage, TestClient } from "../support/chat/ws_client.ts";
import { withDeadline } from "../interop/peers/bounded.ts";

const ignore = skipWithoutRedis();
const TEST_DEADLINE_MS = 60_000;
/** Short, so that a killed process's members expire within the test. */
const PRESENCE_TTL_MS = 1_500;

interface Cluster {
  redis: RedisServer;
  processes: [ChatProcess, ChatProcess];
  connect(process: ChatProcess): Promise<TestClient>;
}

async function withCluster(body: (cluster: Cluster) => Promise<void>) {
  const redis = await RedisServer.start();
  const processes: ChatProcess[] = [];
  const clients: TestClient[] = [];
  try {
    for (let index = 0; index < 2; index++) {
      processes.push(
        await ChatProcess.start(redis.url, { presenceTtl: PRESENCE_TTL_MS }),
      );
    }
    await withDeadline(
      body({
        redis,
        processes: processes as [ChatProcess, ChatProcess],
        async connect(process) {
          const client = await TestClient.open(process.url);
          clients.push(client);
          return client;
        },
      }),
      TEST_DEADLINE_MS,
      "the test",
    );
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    for (const process of processes) {
      const status = await process.stop().catch(() => null);
      if (status !== null && !status.success && status.signal !== "SIGKILL") {
        console.error(process.log.join("\n"));
      }
    }
    await redis.stop();
  }
}

/** Joins; returns the joiner's own notice. */
async function join(
  client: TestClient,
  username: string,
  room = "lobby",
  extra: Record<string, unknown> = {},
): Promise<JsonMessage> {
  client.sendJson({ type: "join", username, room, ...extra });
  const notice = await client.nextJson();
  assert.equal(notice.type, "join", JSON.stringify(notice));
  assert.equal(typeof notice.token, "string");
  return notice;
}

/** The next message of type "message" (notices in between are skipped). */
async function nextText(client: TestClient): Promise<JsonMessage> {
  for (;;) {
    const message = await client.nextJson();
    if (message.type === "message") return message;
    assert.ok(
      message.type === "join" || message.type === "leave",
      JSON.stringify(message),
    );
  }
}

function texts(messages: unknown): string[] {
  return (messages as JsonMessage[])
    .filter((message) => message.type === "message")
    .map((message) => String(message.text));
}

/** Strictly increasing stream ids (`ms-seq`). */
function assertIncreasing(ids: string[]): void {
  for (let index = 1; index < ids.length; index++) {
    const [msA, seqA] = ids[index - 1].split("-").map(BigInt);
    const [msB, seqB] = ids[index].split("-").map(BigInt);
    assert.ok(
      msA < msB || (msA === msB && seqA < seqB),
      `${ids[index - 1]} before ${ids[index]}`,
    );
  }
}

const options = { ignore, sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "chat cluster: rooms, member lists and unique names span both processes",
  options,
  () =>
    withCluster(async ({ processes: [one, two], connect }) => {
      const alice = await connect(one);
      const bob = await connect(two);
      await join(alice, "Alice");
      const bobJoined = await join(bob, "Bob");
      assert.deepEqual(bobJoined.members, ["Alice", "Bob"]);
      const seen = await alice.nextJson();
      assert.equal(seen.type, "join");
      assert.equal(seen.username, "Bob");
      assert.deepEqual(seen.members, ["Alice", "Bob"]);

      const impostor = await connect(two);
      impostor.sendJson({ type: "join", username: "alice", room: "lobby" });
      const refused = await impostor.nextJson();
      assert.equal(refused.code, "username_taken");
      // The same name is free in another room, on either process.
      await join(impostor, "alice", "dev");
      const dave = await connect(one);
      assert.deepEqual((await join(dave, "Dave", "dev")).members, [
        "alice",
        "Dave",
      ]);
      assert.equal((await impostor.nextJson()).username, "Dave");

      alice.sendJson({ type: "message", text: "hello from one" });
      const atBob = await nextText(bob);
      const atAlice = await nextText(alice);
      assert.equal(atBob.text, "hello from one");
      assert.deepEqual(atAlice, atBob);
      bob.sendJson({ type: "message", text: "hello from two" });
      assert.equal((await nextText(alice)).text, "hello from two");
      assert.equal((await nextText(bob)).text, "hello from two");

      dave.sendJson({ type: "message", text: "in dev" });
      assert.equal((await nextText(impostor)).text, "in dev");
      assert.equal((await nextText(dave)).text, "in dev");
      // Nothing from "dev" reached the lobby: its next message is Bob's.
      bob.sendJson({ type: "message", text: "lobby only" });
      assert.equal((await nextText(alice)).text, "lobby only");

      bob.sendJson({ type: "leave" });
      const left = await alice.nextJson();
      assert.equal(left.type, "leave");
      assert.deepEqual(left.members, ["Alice"]);
    }),
);

Deno.test(
  "chat cluster: a late joiner gets the history, and a reconnect with since gets exactly what it missed",
  options,
  () =>
    withCluster(async ({ processes: [one, two], connect }) => {
      const alice = await connect(one);
      await join(alice, "Alice");
      for (let index = 1; index <= 5; index++) {
        alice.sendJson({ type: "message", text: `m${index}` });
        await nextText(alice);
      }
      const bob = await connect(two);
      const joined = await join(bob, "Bob");
      assert.deepEqual(texts(joined.history), ["m1", "m2", "m3", "m4", "m5"]);
      // Its own join notice is the last thing it saw.
      const lastSeen = String(joined.id);
      await bob.close();
      for (let index = 6; index <= 25; index++) {
        alice.sendJson({ type: "message", text: `m${index}` });
      }
      let last: JsonMessage;
      do last = await nextText(alice); while (last.text !== "m25");
      // Back on the other process, saying what it saw last.
      const again = await connect(one);
      const back = await join(again, "Bob", "lobby", { since: lastSeen });
      assert.equal(back.recovered, true);
      const history = back.history as JsonMessage[];
      assert.deepEqual(
        texts(history),
        Array.from({ length: 20 }, (_, index) => `m${index + 6}`),
      );
      assertIncreasing(history.map((message) => String(message.id)));
      // Its own leave is in there too (its place depends on when the
      // server saw the close), once.
      assert.deepEqual(
        history.filter((message) => message.type !== "message"),
        history.filter((message) =>
          message.type === "leave" && message.username === "Bob"
        ),
      );
      assert.equal(history.length, 21);
      // Live messages follow the history, with nothing repeated.
      alice.sendJson({ type: "message", text: "live" });
      assert.equal((await nextText(again)).text, "live");
    }),
);

Deno.test(
  "chat cluster: a killed process's clients resume on the other and recover; its members expire",
  options,
  () =>
    withCluster(async ({ processes: [one, two], connect }) => {
      const alice = await connect(two);
      await join(alice, "Alice");
      const bob = await connect(one);
      const bobJoined = await join(bob, "Bob");
      const carol = await connect(one);
      await join(carol, "Carol");
      await alice.nextJson(); // Bob's join
      await alice.nextJson(); // Carol's join
      alice.sendJson({ type: "message", text: "before" });
      const before = await nextText(bob);
      await one.kill();
      await bob.ended();
      for (let index = 1; index <= 10; index++) {
        alice.sendJson({ type: "message", text: `while away ${index}` });
      }
      let last: JsonMessage;
      do last = await nextText(alice); while (last.text !== "while away 10");
      const back = await connect(two);
      const resumed = await join(back, "Bob", "lobby", {
        token: bobJoined.token,
        since: before.id,
      });
      assert.equal(resumed.resumed, true);
      assert.equal(resumed.recovered, true);
      assert.deepEqual(
        texts(resumed.history),
        Array.from({ length: 10 }, (_, index) => `while away ${index + 1}`),
      );
      // Carol never came back: she leaves the member list once her entry
      // expires (nobody renews it).
      let members: unknown;
      const watcher = await connect(two);
      for (let attempt = 0;; attempt++) {
        members = (await join(watcher, `Watcher${attempt}`, "lobby")).members;
        if (!(members as string[]).includes("Carol")) break;
        watcher.sendJson({ type: "leave" });
        await watcher.nextJson();
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.deepEqual(
        (members as string[]).filter((name) => !name.startsWith("Watcher")),
        ["Alice", "Bob"],
      );
    }),
);

Deno.test(
  "chat cluster: Redis restarted mid-traffic loses no acknowledged message and duplicates none",
  options,
  () =>
    withCluster(async ({ redis, processes: [one, two], connect }) => {
      const alice = await connect(one);
      await join(alice, "Alice");
      const bob = await connect(two);
      await join(bob, "Bob");
      await alice.nextJson(); // Bob's join
      const acknowledged: string[] = [];
      let restart: Promise<void> | null = null;
      // A wait that fails says which one, with both processes' logs.
      const step = async <T>(what: string, work: Promise<T>): Promise<T> => {
        try {
          return await work;
        } catch (error) {
          throw new Error(
            `${what}: ${(error as Error).message}\nprocess one:\n${
              one.log.join("\n")
            }\nprocess two:\n${two.log.join("\n")}`,
          );
        }
      };
      for (let index = 1; index <= 60; index++) {
        if (index === 20) {
          restart = redis.kill().then(() => redis.restart());
        }
        alice.sendJson({ type: "message", text: `n${index}` });
        const answer = await step(`the answer to n${index}`, alice.nextJson());
        if (answer.type === "message") {
          assert.equal(answer.text, `n${index}`);
          acknowledged.push(`n${index}`);
        } else {
          assert.equal(answer.code, "unavailable", JSON.stringify(answer));
        }
      }
      await restart;
      const received: JsonMessage[] = [];
      while (received.length < acknowledged.length) {
        received.push(
          await step(
            `Bob's message ${received.length + 1} of ${acknowledged.length}`,
            nextText(bob),
          ),
        );
      }
      assert.deepEqual(received.map((message) => message.text), acknowledged);
      assertIncreasing(received.map((message) => String(message.id)));
      alice.sendJson({ type: "message", text: "after" });
      assert.equal(
        (await step(`Bob's message "after"`, nextText(bob))).text,
        "after",
      );
      assert.ok(acknowledged.length >= 50, `${acknowledged.length} of 60`);
      for (const process of [one, two]) {
        const lost = process.log.filter((line) =>
          line.startsWith("lost Redis")
        );
        const back = process.log.filter((line) =>
          line.startsWith("reconnected to Redis")
        );
        assert.equal(lost.length, 1, process.log.join("\n"));
        assert.equal(back.length, 1, process.log.join("\n"));
      }
    }),
);
