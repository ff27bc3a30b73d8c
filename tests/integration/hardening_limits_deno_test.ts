// Deno only: the limits that bound what one peer, or many, can make the
// server hold. maxConnections (503 with Retry-After before any request is
// read), maxFrameSize and maxFragments through upgradeWebSocket's and
// connect()'s options. Head size, header count, the head timeout, message
// size and maxQueuedBytes have their own tests (server_bad_input_deno_test,
// hardening_backpressure_deno_test).
import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import { Opcode } from "../../frame/types.ts";
import { serve } from "../../mod.ts";
import { withDeadline } from "../interop/peers/bounded.ts";
import {
  clientFrame,
  closePayload,
  concat,
  RawWebSocket,
  upgradeHead,
} from "../support/raw_ws_client_deno.ts";
import { EVENT_DEADLINE, HardeningServer } from "../support/hardening_deno.ts";
import { DEFAULTS } from "../../defaults.ts";

Deno.test("serve: maxConnections has a default of 10,000 and refuses nonsense", () => {
  assert.equal(DEFAULTS.server.maxConnections, 10_000);
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () =>
        serve(
          { port: 0, maxConnections: bad, onListen() {} },
          () => new Response(),
        ),
      RangeError,
    );
  }
});

Deno.test("serve: past maxConnections a new connection gets 503 with Retry-After before any upgrade, and a freed slot is reused", async () => {
  const target = new HardeningServer({}, () => {}, { maxConnections: 2 });
  const open: RawWebSocket[] = [];
  try {
    const first = target.uniquePath("first");
    open.push(await RawWebSocket.open(target.port, first));
    open.push(
      await RawWebSocket.open(target.port, target.uniquePath("second")),
    );

    for (let attempt = 0; attempt < 3; attempt++) {
      const extra = await RawWebSocket.connect(target.port);
      try {
        await extra.send(upgradeHead(target.uniquePath("refused")));
        const response = await extra.readResponse();
        assert.equal(response.status, 503, response.statusLine);
        assert.equal(
          response.headers.get("retry-after"),
          String(DEFAULTS.limits.overloadRetryAfterSeconds),
        );
        assert.equal(response.headers.get("connection"), "close");
        await extra.expectEnd();
      } finally {
        extra.close();
      }
    }
    assert.equal(
      target.sides.size,
      2,
      "the handler never saw the refused ones",
    );

    // A plain HTTP connection is refused the same way.
    const plain = await fetch(`http://127.0.0.1:${target.port}/`);
    assert.equal(plain.status, 503);
    await plain.body?.cancel();

    // Free a slot: close the first socket cleanly.
    const leaving = open.shift()!;
    await leaving.send(clientFrame(Opcode.Close, closePayload(1000)));
    assert.equal((await leaving.readClose()).code, 1000);
    await leaving.expectEnd();
    leaving.close();
    assert.equal((await target.closeOf(first)).wasClean, true);

    // The server released it before its FIN reached us: the next one is in.
    const next = target.uniquePath("after");
    open.push(await RawWebSocket.open(target.port, next));
    await open[1].send(clientFrame(Opcode.Ping, "still there"));
    assert.equal((await open[1].readFrame()).opcode, Opcode.Pong);
  } finally {
    for (const socket of open) socket.close();
    await target.shutdown();
  }
});

Deno.test("serve: upgradeWebSocket's maxFrameSize fails a bigger frame with 1009, while a message in smaller frames passes", async () => {
  const target = new HardeningServer({ maxFrameSize: 1024 }, (socket) => {
    socket.onmessage = (event) => socket.send(event.data);
  });
  const path = target.uniquePath("frame-size");
  const client = await RawWebSocket.open(target.port, path);
  try {
    const half = new Uint8Array(1024).fill(0x61);
    await client.send(concat(
      clientFrame(Opcode.Text, half, false),
      clientFrame(Opcode.Continuation, half),
    ));
    const echoed = await client.readFrame();
    assert.equal(
      echoed.payload.length,
      2048,
      "a 2 KiB message in 1 KiB frames",
    );
    await client.send(clientFrame(Opcode.Binary, new Uint8Array(1025)));
    assert.equal((await client.readClose()).code, 1009);
    await client.expectEnd();
    assert.equal((await target.closeOf(path)).code, 1009);
  } finally {
    client.close();
    await target.shutdown();
  }
});

Deno.test("serve: upgradeWebSocket's maxFragments fails a message in more frames with 1009", async () => {
  const target = new HardeningServer({ maxFragments: 4 }, (socket) => {
    socket.onmessage = (event) => socket.send(event.data);
  });
  const fragments = (count: number): Uint8Array => {
    const frames = [clientFrame(Opcode.Text, "a", false)];
    for (let index = 1; index < count; index++) {
      frames.push(clientFrame(Opcode.Continuation, "a", index === count - 1));
    }
    return concat(...frames);
  };
  const path = target.uniquePath("fragments");
  const client = await RawWebSocket.open(target.port, path);
  try {
    await client.send(fragments(4));
    assert.equal(
      new TextDecoder().decode((await client.readFrame()).payload),
      "aaaa",
    );
    await client.send(fragments(5));
    assert.equal((await client.readClose()).code, 1009);
    await client.expectEnd();
    assert.equal((await target.closeOf(path)).code, 1009);
  } finally {
    client.close();
    await target.shutdown();
  }
});

Deno.test("connect(): maxFrameSize limits what the server may send", async () => {
  const target = new HardeningServer({}, (socket) => {
    socket.onmessage = () => socket.send("x".repeat(2048));
  });
  const path = target.uniquePath("client-frame-size");
  const client = await connect(`ws://127.0.0.1:${target.port}${path}`, {
    maxFrameSize: 1024,
  });
  try {
    const closed = new Promise<CloseEvent>((resolve) => {
      client.onclose = resolve;
    });
    client.send("go");
    const event = await withDeadline(closed, EVENT_DEADLINE, "client close");
    assert.equal(event.code, 1009);
    assert.equal((await target.closeOf(path)).code, 1009);
  } finally {
    client.close();
    await target.shutdown();
  }
});
