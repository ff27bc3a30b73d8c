/**
 * A TCP echo server on `Deno.listen` + `Deno.Conn.read`/`write`, the I/O
 * our WebSocket server (and any Deno-native TCP server) is built on. No
 * WebSocket: whatever this one cannot do, no library on these APIs can.
 *
 * deno run -A bench/tcp_fairness/deno_conn_echo.ts PORT
 *
 * @module
 */

const listener = Deno.listen({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0]),
});

async function echo(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    for (;;) {
      const count = await conn.read(buffer);
      if (count === null) break;
      await conn.write(buffer.subarray(0, count));
    }
  } catch {
    // The client reset the connection.
  }
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

console.log("listening");
for await (const conn of listener) void echo(conn);
