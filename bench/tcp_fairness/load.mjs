// Round-trip load for bench/tcp_fairness (run by Bun): opens CONNS
// connections, then keeps one 16-byte message in flight on each, and after
// a 1 s warmup measures for MEASURE_MS: echoes per second, how many
// connections got at least one echo in the window (served), and the
// server's CPU per echo from /proc/SERVER_PID/stat. Prints one JSON line.
//
// bun load.mjs PORT CONNS SERVER_PID [MEASURE_MS]
import net from "node:net";
import fs from "node:fs";

const [port, count, serverPid] = process.argv.slice(2, 5).map(Number);
const measureMs = Number(process.argv[5] ?? 4000);
const BATCH = 500;
const payload = Buffer.alloc(16, 0x2a);

function open() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

function serverCpuSeconds() {
  const stat = fs.readFileSync(`/proc/${serverPid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const sockets = [];
for (let opened = 0; opened < count; opened += BATCH) {
  const batch = Math.min(BATCH, count - opened);
  sockets.push(...await Promise.all(Array.from({ length: batch }, open)));
}

let measuring = false;
let echoes = 0;
const served = new Set();
for (const socket of sockets) {
  socket.setNoDelay(true);
  socket.on("data", () => {
    if (measuring) {
      echoes++;
      served.add(socket);
    }
    socket.write(payload);
  });
  socket.write(payload);
}

await new Promise((resolve) => setTimeout(resolve, 1000));
measuring = true;
const cpuBefore = serverCpuSeconds();
const start = performance.now();
await new Promise((resolve) => setTimeout(resolve, measureMs));
measuring = false;
const seconds = (performance.now() - start) / 1000;
const cpu = serverCpuSeconds() - cpuBefore;
console.log(JSON.stringify({
  connections: count,
  served: served.size,
  echoesPerSecond: Math.round(echoes / seconds),
  serverMicrosPerEcho: echoes === 0 ? null : (cpu * 1e6) / echoes,
}));
for (const socket of sockets) socket.destroy();
process.exit(0);
