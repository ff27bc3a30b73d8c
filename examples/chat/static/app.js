// The chat page: one WebSocket to /ws speaking the JSON protocol of
// chat/PROTOCOL.md. No framework, no build step. Everything the server or
// other people send is shown with textContent, never parsed as HTML.
//
// When the connection drops, the page reconnects with exponential backoff
// (0.5 s doubling to 10 s, with jitter) and joins the same room under the
// same name again, presenting the resume token the server sent with the
// first join: if the server has not yet noticed that the old connection
// dropped, the token lets the new one take its place instead of being
// refused because the name is taken (by the page itself).

/** First reconnection delay in milliseconds; doubled after each failure. */
const RECONNECT_BASE_MS = 500;
/** Longest reconnection delay in milliseconds. */
const RECONNECT_MAX_MS = 10_000;
/** A connection that stayed open this long resets the backoff. */
const STABLE_CONNECTION_MS = 10_000;
/** The room joined when the room field is left empty. */
const DEFAULT_ROOM = "lobby";
/** The close code of a connection whose session another connection resumed
 * with this page's token (SESSION_REPLACED_CLOSE_CODE in chat/protocol.ts). */
const SESSION_REPLACED_CLOSE_CODE = 4000;

/** @param {string} id */
function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing`);
  return element;
}

const view = {
  status: byId("status"),
  joinView: byId("join-view"),
  joinForm: /** @type {HTMLFormElement} */ (byId("join-form")),
  username: /** @type {HTMLInputElement} */ (byId("username")),
  room: /** @type {HTMLInputElement} */ (byId("room")),
  joinError: byId("join-error"),
  chatView: byId("chat-view"),
  roomName: byId("room-name"),
  myName: byId("my-name"),
  memberCount: byId("member-count"),
  members: byId("members"),
  leave: byId("leave-button"),
  messages: byId("messages"),
  messageForm: /** @type {HTMLFormElement} */ (byId("message-form")),
  messageInput: /** @type {HTMLInputElement} */ (byId("message-input")),
};

const state = {
  /** @type {WebSocket | null} */
  socket: null,
  /** What the user asked to join; joined again after a reconnection, with
   * the resume token of the membership once the server has sent it.
   * @type {{ username: string, room: string, token?: string } | null} */
  wanted: null,
  /** Where the server says we are. @type {{ username: string, room: string } | null} */
  joined: null,
  /** A join was sent and its answer has not come yet. */
  awaitingJoin: false,
  /** The user pressed "Leave room" and the notice has not come yet. */
  leaving: false,
  /** Failed connection attempts since the last stable connection. */
  attempts: 0,
  openedAt: 0,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  reconnectTimer: undefined,
  /** The id of the last message or notice seen in the joined room (only
   * servers that share Redis send ids), sent as `since` when joining the
   * same room again so that the server sends what was missed.
   * @type {{ room: string, id: string } | null} */
  lastSeen: null,
};

/**
 * @param {"connecting" | "open" | "closed"} connection
 * @param {string} text
 */
function setStatus(connection, text) {
  view.status.dataset.state = connection;
  view.status.textContent = text;
}

/** @param {"join" | "chat"} which */
function show(which) {
  document.body.dataset.view = which;
  view.joinView.hidden = which !== "join";
  view.chatView.hidden = which !== "chat";
  if (which === "join") view.username.focus();
  else view.messageInput.focus();
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  setStatus(
    "connecting",
    state.attempts === 0 ? "Connecting…" : "Reconnecting…",
  );
  const socket = new WebSocket(socketUrl());
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.openedAt = Date.now();
    setStatus("open", "Connected");
    if (state.wanted !== null) sendJoin(state.wanted);
  });
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") receive(event.data);
  });
  socket.addEventListener("close", (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    if (event.code === SESSION_REPLACED_CLOSE_CODE) sessionTakenOver();
    reconnectLater(event.code);
  });
}

/** @param {number} code the close code of the connection that ended */
function reconnectLater(code) {
  if (
    state.openedAt !== 0 && Date.now() - state.openedAt > STABLE_CONNECTION_MS
  ) {
    state.attempts = 0;
  }
  state.openedAt = 0;
  const ceiling = Math.min(
    RECONNECT_MAX_MS,
    RECONNECT_BASE_MS * 2 ** state.attempts,
  );
  const delay = Math.round(ceiling * (0.5 + Math.random() * 0.5));
  state.attempts++;
  state.awaitingJoin = false;
  const seconds = (delay / 1000).toFixed(1);
  setStatus("closed", `Disconnected — retrying in ${seconds} s`);
  if (state.joined !== null) {
    addNote("system", `Connection lost (code ${code}). Reconnecting…`);
    view.members.classList.add("stale");
    state.joined = null;
  }
  if (state.leaving) finishLeaving();
  state.reconnectTimer = setTimeout(connect, delay);
}

/** Another connection presented this page's token and holds the name now:
 * do not take it back (two holders would take turns forever). */
function sessionTakenOver() {
  state.wanted = null;
  state.awaitingJoin = false;
  state.leaving = false;
  if (state.joined === null) return;
  addNote("system", "This session was resumed on another connection.");
  state.joined = null;
  view.joinError.textContent =
    "Your session was resumed on another connection. Join again to come back.";
  view.joinError.hidden = false;
  show("join");
}

/** @param {unknown} value */
function send(value) {
  const socket = state.socket;
  if (socket === null || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(value));
  return true;
}

/** @param {{ username: string, room: string, token?: string }} wanted */
function sendJoin(wanted) {
  const seen = state.lastSeen;
  const since = seen !== null && seen.room === wanted.room ? seen.id : null;
  state.awaitingJoin = send({ type: "join", ...wanted, since });
}

/**
 * Compares two message ids ("ms-seq") as numbers.
 * @param {string} a @param {string} b
 */
function compareIds(a, b) {
  const [msA, seqA] = a.split("-").map(BigInt);
  const [msB, seqB] = b.split("-").map(BigInt);
  if (msA !== msB) return msA < msB ? -1 : 1;
  return seqA === seqB ? 0 : seqA < seqB ? -1 : 1;
}

/**
 * Remembers the id of a message of `room`, if it has one and is newer.
 * @param {string} room @param {unknown} id
 */
function sawId(room, id) {
  if (typeof id !== "string" || !/^\d{1,20}-\d{1,20}$/.test(id)) return;
  const seen = state.lastSeen;
  if (seen !== null && seen.room === room && compareIds(id, seen.id) <= 0) {
    return;
  }
  state.lastSeen = { room, id };
}

/** @param {string} data */
function receive(data) {
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return;
  }
  if (typeof message !== "object" || message === null) return;
  dispatch(message);
}

/** @param {Record<string, unknown>} message */
function dispatch(message) {
  switch (message.type) {
    case "join":
    case "leave":
      return onMembership(message);
    case "message":
      return onChat(message);
    case "error":
      return onError(message);
  }
}

/** @param {unknown} value */
function text(value) {
  return typeof value === "string" ? value : "";
}

/** @param {string} a @param {string} b */
function sameName(a, b) {
  return a.toLowerCase() === b.toLowerCase();
}

/** @param {Record<string, unknown>} message */
function onMembership(message) {
  const username = text(message.username);
  const room = text(message.room);
  const members = Array.isArray(message.members)
    ? message.members.filter((name) => typeof name === "string")
    : [];
  const wanted = state.wanted;
  if (
    message.type === "join" && state.awaitingJoin && wanted !== null &&
    sameName(username, wanted.username)
  ) {
    onJoined(username, room, members, text(message.token));
    if (Array.isArray(message.history)) {
      for (const earlier of message.history) {
        if (typeof earlier !== "object" || earlier === null) continue;
        // Our own earlier joins and leaves (a dropped connection) are not
        // news, and the member list is the join's.
        if (earlier.type === "message") dispatch(earlier);
        else if (!sameName(text(earlier.username), username)) {
          const verb = earlier.type === "join" ? "joined" : "left";
          addNote(
            earlier.type,
            `${text(earlier.username)} ${verb}`,
            earlier.ts,
          );
        }
        sawId(room, earlier.id);
      }
    }
    sawId(room, message.id);
    return;
  }
  const joined = state.joined;
  if (joined === null || room !== joined.room) return;
  sawId(room, message.id);
  if (message.type === "leave" && sameName(username, joined.username)) {
    return finishLeaving();
  }
  showMembers(members);
  const verb = message.type === "join" ? "joined" : "left";
  addNote(message.type, `${username} ${verb}`, message.ts);
}

/**
 * @param {string} username
 * @param {string} room
 * @param {string[]} members
 * @param {string} token the resume token ("" if the server sent none)
 */
function onJoined(username, room, members, token) {
  const previous = view.roomName.textContent;
  state.awaitingJoin = false;
  state.joined = { username, room };
  state.wanted = token === "" ? { username, room } : { username, room, token };
  view.joinError.hidden = true;
  view.roomName.textContent = room;
  view.myName.textContent = username;
  showMembers(members);
  if (previous !== room) view.messages.replaceChildren();
  const rejoined = previous === room && view.messages.childElementCount > 0;
  addNote("join", rejoined ? `Rejoined #${room}` : `You joined #${room}`);
  show("chat");
}

function finishLeaving() {
  state.leaving = false;
  state.joined = null;
  show("join");
}

/** @param {Record<string, unknown>} message */
function onChat(message) {
  const joined = state.joined;
  if (joined === null || message.room !== joined.room) return;
  sawId(joined.room, message.id);
  const username = text(message.username);
  const item = document.createElement("li");
  item.className = "message";
  item.dataset.kind = "message";
  if (sameName(username, joined.username)) item.classList.add("mine");
  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = username;
  meta.append(author, timeElement(message.ts));
  const body = document.createElement("p");
  body.className = "text";
  body.textContent = text(message.text);
  item.append(meta, body);
  append(item);
}

/** @param {Record<string, unknown>} message */
function onError(message) {
  const description = text(message.message) || "error";
  if (state.awaitingJoin || state.joined === null) {
    // A refused join (a name taken, a bad room): back to the form, no rejoin.
    state.awaitingJoin = false;
    state.wanted = null;
    view.joinError.textContent = description;
    view.joinError.hidden = false;
    show("join");
    return;
  }
  addNote("error", description);
}

/** @param {string[]} members */
function showMembers(members) {
  const me = state.joined?.username ?? "";
  const items = members.map((name) => {
    const item = document.createElement("li");
    item.textContent = name;
    if (sameName(name, me)) item.classList.add("me");
    return item;
  });
  view.members.replaceChildren(...items);
  view.members.classList.remove("stale");
  view.memberCount.textContent = String(members.length);
}

/** @param {unknown} ts */
function timeElement(ts) {
  const time = document.createElement("time");
  const date = new Date(typeof ts === "number" ? ts : Date.now());
  time.dateTime = date.toISOString();
  time.textContent = date.toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
  });
  return time;
}

/**
 * @param {"join" | "leave" | "error" | "system"} kind
 * @param {string} description
 * @param {unknown} [ts]
 */
function addNote(kind, description, ts) {
  const item = document.createElement("li");
  item.className = `note ${kind}`;
  item.dataset.kind = kind;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = description;
  item.append(body, timeElement(ts));
  append(item);
}

/** @param {HTMLElement} item */
function append(item) {
  const list = view.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

view.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const username = view.username.value.trim();
  const room = view.room.value.trim() || DEFAULT_ROOM;
  if (username === "") return;
  view.joinError.hidden = true;
  state.wanted = { username, room };
  // Sent now if connected, else as soon as the connection opens.
  sendJoin(state.wanted);
});

view.messageForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const message = view.messageInput.value.trim();
  if (message === "") return;
  if (send({ type: "message", text: message })) view.messageInput.value = "";
  else addNote("error", "Not connected: the message was not sent");
});

view.leave.addEventListener("click", () => {
  state.wanted = null;
  state.leaving = true;
  if (!send({ type: "leave" })) finishLeaving();
});

show("join");
connect();
