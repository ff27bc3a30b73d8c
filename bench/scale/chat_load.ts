/**
 * Chat clients for the scale benchmark (`main.ts` starts it), on Deno's
 * own `WebSocket`. The last argument is JSON:
 *
 * - `{ "mode": "broadcast", ports, clients, senders, windowMs }`: every
 *   client joins "lobby" (on the ports in turn); then `senders` of them
 *   each say one message after another (the next once its own came back),
 *   and after `windowMs` it prints `{"messages":N,"deliveries":M,"ms":T}`:
 *   messages said and messages received by all clients in the window.
 * - `{ "mode": "recovery", ports, count }`: "Away" joins on the first port
 *   and leaves, "Talker" says `count` messages on the second, and "Away"
 *   joins again on the second with `since`; prints `{"ms":T,"history":N,
 *   "recovered":true,"inOrder":true}` with the time from that join to its
 *   answer.
 *
 * @module
 */

type Json = Record<string, unknown>;

interface Client {
  socket: WebSocket;
  next(): Promise<Json>;
  onText: ((message: Json) => void) | null;
}

async function open(port: number): Promise<Client> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const queue: Json[] = [];
  const waiting: Array<(message: Json) => void> = [];
  const client: Client = {
    socket,
    onText: null,
    next: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift()!)
        : new Promise((resolve) => waiting.push(resolve)),
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data) as Json;
    if (client.onText !== null) return client.onText(message);
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(message);
    else queue.push(message);
  };
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  return client;
}

async function join(client: Client, username: string, extra: Json = {}) {
  client.socket.send(JSON.stringify({ type: "join", username, ...extra }));
  for (;;) {
    const message = await client.next();
    if (message.type === "join" && message.username === username) {
      return message;
    }
    if (message.type === "error") throw new Error(String(message.message));
  }
}

const config = JSON.parse(Deno.args.at(-1)!) as Json & {
  ports: number[];
};

if (config.mode === "broadcast") {
  const clients: Client[] = [];
  for (let index = 0; index < (config.clients as number); index++) {
    const client = await open(config.ports[index % config.ports.length]);
    await join(client, `user${index}`);
    clients.push(client);
  }
  let deliveries = 0;
  let messages = 0;
  let measuring = true;
  const senders = config.senders as number;
  for (let index = 0; index < clients.length; index++) {
    const client = clients[index];
    const name = `user${index}`;
    client.onText = (message) => {
      if (message.type !== "message" || !measuring) return;
      deliveries++;
      if (index < senders && message.username === name) {
        messages++;
        client.socket.send(JSON.stringify({ type: "message", text: "hi" }));
      }
    };
  }
  const start = performance.now();
  for (let index = 0; index < senders; index++) {
    clients[index].socket.send(JSON.stringify({ type: "message", text: "hi" }));
  }
  await new Promise((resolve) =>
    setTimeout(resolve, config.windowMs as number)
  );
  measuring = false;
  const ms = performance.now() - start;
  console.log(JSON.stringify({ messages, deliveries, ms }));
  for (const client of clients) client.socket.close();
} else {
  const [first, second] = config.ports;
  const count = config.count as number;
  const away = await open(first);
  const joined = await join(away, "Away");
  away.socket.close();
  const talker = await open(second);
  await join(talker, "Talker");
  for (let index = 0; index < count; index++) {
    talker.socket.send(JSON.stringify({ type: "message", text: `t${index}` }));
  }
  for (;;) {
    const message = await talker.next();
    if (message.type === "message" && message.text === `t${count - 1}`) break;
  }
  const back = await open(second);
  const start = performance.now();
  const notice = await join(back, "Away", { since: joined.id });
  const ms = performance.now() - start;
  const texts = (notice.history as Json[])
    .filter((message) => message.type === "message")
    .map((message) => message.text);
  let inOrder = texts.length === count;
  for (let index = 0; inOrder && index < count; index++) {
    inOrder = texts[index] === `t${index}`;
  }
  console.log(JSON.stringify({
    ms,
    history: texts.length,
    recovered: notice.recovered,
    inOrder,
  }));
  talker.socket.close();
  back.socket.close();
}
Deno.exit(0);
