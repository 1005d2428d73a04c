// The official client against the real chat example (and the echo example for the plain
// socket): answers, errors, timeouts, events, states, reconnects after a restart, the emit
// queue's bound, and a session resumed after the network cut it, with nothing lost or doubled.
// Needs `cargo build --example chat --features redis` and `cargo build --example echo`;
// `.ci/run` builds both. Run: `npm test` (Node 22, installed as a dev dependency).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionLostError,
  QueueFullError,
  ReconnectingSocket,
  RequestError,
  TimeoutError,
} from "../dist/index.js";
import {
  chatClient,
  closeChatClients,
  next,
  startExample,
  startProxy,
  stopExamples,
  take,
} from "./support.mjs";

let chat;

before(async () => {
  chat = await startExample("chat");
});

after(async () => {
  closeChatClients();
  await stopExamples();
});

const connect = chatClient;

const opened = (client) => next((f) => client.onState(f), ({ state }) => state === "open");
const said = (client, count) =>
  take((f) => client.on("message", ({ text }) => f(text)), count);

test("a request resolves with its answer, and an error answer rejects with its status", async () => {
  const ada = connect(chat.address);
  const { members } = await ada.request("join", { room: "answers", name: "ada" });
  assert.deepEqual(members, ["ada"]);
  await assert.rejects(ada.request("nope", {}), (error) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.status, 404);
    return true;
  });
  await assert.rejects(ada.request("join", { room: "", name: "ada" }), { status: 400 });
});

test("events reach their listeners until they are turned off", async () => {
  const ada = connect(chat.address);
  const bob = connect(chat.address);
  await ada.request("join", { room: "events", name: "ada" });
  await bob.request("join", { room: "events", name: "bob" });
  const heard = said(ada, 1);
  bob.emit("message", { text: "hi ada" });
  assert.deepEqual(await heard, ["hi ada"]);

  const seen = [];
  const off = ada.on("message", ({ text }) => seen.push(text));
  off();
  const still = said(ada, 1);
  bob.emit("message", { text: "again" });
  await still;
  assert.deepEqual(seen, []);
});

test("a request with no answer in time rejects with a timeout", async () => {
  const proxy = await startProxy(chat.address);
  const ada = connect(proxy.address);
  await opened(ada);
  proxy.stall(true);
  await assert.rejects(ada.request("join", { room: "late", name: "ada" }, { timeoutMs: 100 }), TimeoutError);
  await proxy.close();
});

test("emits wait while the connection is down, up to the queue's bound", async () => {
  const nowhere = await startProxy("127.0.0.1:9"); // refuses: nothing listens on the discard port
  const ada = connect(nowhere.address, { queueLimit: 3 });
  for (const text of ["1", "2", "3"]) ada.emit("message", { text });
  assert.throws(() => ada.emit("message", { text: "4" }), QueueFullError);
  await assert.rejects(ada.request("join", { room: "r", name: "a" }), QueueFullError);
  await nowhere.close();
});

test("a restarted server is reconnected to, and the client is told its session is fresh", async () => {
  const server = await startExample("chat");
  const proxy = await startProxy(server.address);
  const ada = connect(proxy.address);
  await ada.request("join", { room: "restart", name: "ada" });
  const states = [];
  ada.onState(({ state, code }) => states.push([state, code]));
  const session = next((f) => ada.onSession(f));
  const reopened = opened(ada);
  // A request the server takes but whose answer never arrives: then the server dies.
  proxy.stall(true);
  const pending = ada.request("join", { room: "restart", name: "ada" }, { timeoutMs: 5000 });
  const rejoined = next((f) => ada.onState(f)); // the proxy passes the drop on
  await server.stop();
  await rejoined;
  // Asked while reconnecting: it waits in the queue and goes out on the new session.
  const waited = ada.request("join", { room: "restart", name: "ada" }, { timeoutMs: 5000 });
  proxy.stall(false);
  await startExample("chat", server.port);
  await reopened;
  // The server that had the session is gone, and with it the session: the request fails.
  assert.deepEqual(await session, { resumed: false, reason: "unknown" });
  await assert.rejects(pending, ConnectionLostError);
  assert.deepEqual((await waited).members, ["ada"]);
  assert.deepEqual(states[0], ["reconnecting", 1006]);
  assert.deepEqual(states.at(-1), ["open", undefined]);
  const { members } = await ada.request("join", { room: "restart", name: "ada" });
  assert.deepEqual(members, ["ada"]);
  await proxy.close();
});

test("a session cut by the network resumes: every message once, in order, answers too", async () => {
  const proxy = await startProxy(chat.address);
  const ada = connect(proxy.address);
  const bob = connect(chat.address);
  await ada.request("join", { room: "resume", name: "ada" });
  await bob.request("join", { room: "resume", name: "bob" });
  const texts = Array.from({ length: 40 }, (_, index) => String(index + 1));
  const heard = said(ada, texts.length);
  // The path to ada goes silent first (what the server sends her is lost), then breaks.
  proxy.stall(true);
  for (const text of texts.slice(0, 20)) bob.emit("message", { text });
  const rejoined = next((f) => bob.on("users", f));
  const answer = ada.request("join", { room: "resume", name: "ada" });
  await rejoined; // the server has her request; its answer is lost on the way
  proxy.cut();
  proxy.stall(false);
  for (const text of texts.slice(20)) bob.emit("message", { text });
  assert.deepEqual(await next((f) => ada.onSession(f)), { resumed: true });
  assert.deepEqual(await heard, texts);
  assert.deepEqual((await answer).members, ["ada", "bob"]);
  // Nothing twice: the next message ada hears is the next one sent.
  const after = said(ada, 1);
  bob.emit("message", { text: "41" });
  assert.deepEqual(await after, ["41"]);
  await proxy.close();
});

test("the plain socket reconnects and sends what waited, in order", async () => {
  const echo = await startExample("echo");
  const proxy = await startProxy(echo.address);
  const socket = new ReconnectingSocket(`ws://${proxy.address}/echo`, {
    reconnect: { initialDelayMs: 20 },
  });
  const first = take((f) => socket.onMessage(f), 1);
  socket.send("before");
  assert.deepEqual(await first, ["before"]);
  proxy.cut();
  await next((f) => socket.onState(f), ({ state }) => state === "reconnecting");
  socket.send("while down 1");
  socket.send("while down 2");
  assert.deepEqual(await take((f) => socket.onMessage(f), 2), ["while down 1", "while down 2"]);
  socket.close();
  await proxy.close();
  await echo.stop();
});

test("the server's requests are answered by handle; an event without a handler gets a 404 answer", async () => {
  const [ada, bob, carol] = [connect(chat.address), connect(chat.address), connect(chat.address)];
  const asked = [];
  bob.handle("ready?", ({ from }) => {
    asked.push(from);
    return true;
  });
  carol.handle("ready?", async () => {
    throw new RequestError("not yet", 409);
  });
  for (const [client, name] of [[ada, "ada"], [bob, "bob"], [carol, "carol"]]) {
    await client.request("join", { room: "ready", name });
  }
  assert.deepEqual(await ada.request("ready", undefined), { ready: 1, not_ready: 1 });
  assert.deepEqual(asked, ["ada"]);
  carol.close();
  const dave = connect(chat.address);
  await dave.request("join", { room: "ready", name: "dave" });
  // Dave has no handler: his client answers 404, which counts as not ready.
  assert.deepEqual(await ada.request("ready", undefined), { ready: 1, not_ready: 1 });
});

test("a request of the server crosses a resume: asked while the path is cut, answered after", async () => {
  const proxy = await startProxy(chat.address);
  const ada = connect(chat.address);
  const bob = connect(proxy.address);
  bob.handle("ready?", () => true);
  await ada.request("join", { room: "ready-resume", name: "ada" });
  await bob.request("join", { room: "ready-resume", name: "bob" });
  // Bob's path goes silent, then breaks: the request waits in his session for his resume.
  proxy.stall(true);
  const readiness = ada.request("ready", undefined, { timeoutMs: 15_000 });
  const resumed = next((f) => bob.onSession(f));
  proxy.cut();
  proxy.stall(false);
  assert.deepEqual(await resumed, { resumed: true });
  assert.deepEqual(await readiness, { ready: 1, not_ready: 0 });
  await proxy.close();
});
