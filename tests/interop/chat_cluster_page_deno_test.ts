// Deno only: the chat page in headless Chromium against two chat servers
// sharing one real redis-server: a page that joins late shows the room's
// history, and a page whose connection is cut while the other process's
// members talk shows, after it reconnected on its own, exactly what it
// missed, once each, in order.
import assert from "node:assert/strict";
import {
  type ChatServer,
  startChatServer,
} from "../../examples/chat/server.ts";
import {
  type BrowserSession,
  chromiumInstalled,
  launchChromium,
} from "./browser/chromium.ts";
import { skipUnlessAvailable, withDeadline } from "./peers/bounded.ts";
import {
  joinFromPage,
  openChatPage,
  readChat,
  sendFromPage,
  waitForMessages,
} from "../support/chat/page_driver.ts";
import { TcpProxy } from "../support/chat/tcp_proxy.ts";
import { RedisServer, skipWithoutRedis } from "../support/redis_server_deno.ts";

const ignore =
  skipUnlessAvailable(await chromiumInstalled(), "Chromium") !== false ||
  skipWithoutRedis();

Deno.test({
  name:
    "the chat page on two processes: history for a late joiner, recovery after a cut",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await RedisServer.start();
    const servers: ChatServer[] = [];
    let proxy: TcpProxy | undefined;
    let session: BrowserSession | undefined;
    try {
      for (let index = 0; index < 2; index++) {
        servers.push(
          await startChatServer({
            hostname: "127.0.0.1",
            port: 0,
            redisUrl: redis.url,
            log: false,
          }),
        );
      }
      proxy = new TcpProxy(servers[1].addr.port);
      const browser = await launchChromium();
      session = browser;
      await withDeadline(
        (async () => {
          const alice = browser.page;
          const bob = await alice.context().newPage();
          await openChatPage(alice, servers[0].url);
          await joinFromPage(alice, "Alice", "lobby");
          await sendFromPage(alice, "first");
          await sendFromPage(alice, "second");
          await waitForMessages(alice, 2);
          await openChatPage(bob, `http://127.0.0.1:${proxy!.port}/`);
          await joinFromPage(bob, "Bob", "lobby");
          await waitForMessages(bob, 2);
          await proxy!.cut();
          for (const text of ["while", "you", "were", "away"]) {
            await sendFromPage(alice, text);
          }
          await waitForMessages(alice, 6);
          await waitForMessages(bob, 6);
          await sendFromPage(alice, "live again");
          await waitForMessages(bob, 7);
          const shown = (await readChat(bob)).entries
            .filter((entry) => entry.kind === "message")
            .map((entry) => entry.text);
          assert.deepEqual(shown, [
            "first",
            "second",
            "while",
            "you",
            "were",
            "away",
            "live again",
          ]);
          assert.deepEqual((await readChat(bob)).members, ["Alice", "Bob"]);
          assert.deepEqual(browser.pageErrors, []);
        })(),
        60_000,
        "the pages",
      );
    } finally {
      await session?.close();
      await proxy?.close();
      for (const server of servers) await server.shutdown();
      await redis.stop();
    }
  },
});
