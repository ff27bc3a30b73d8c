// The same TCP echo server on `node:net`, run by Deno (its Node
// compatibility layer) or by Bun: node_net_echo.mjs PORT
import net from "node:net";

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("data", (data) => socket.write(data));
  socket.on("error", () => socket.destroy());
});
server.listen(Number(process.argv[2]), "127.0.0.1", () => {
  console.log("listening");
});
