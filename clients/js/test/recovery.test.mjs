// The client that notices, in Node 22 (whose WebSocket fires `error` and no `close` for a refused
// connection): a server down at start, a restart slower than the backoff, an attempt that never
// opens (a black hole), and a silent path noticed by the heartbeat and resumed with nothing lost.
// Needs `cargo build --example chat --features redis` (`.ci/run` builds it).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { ReconnectingSocket } from "../dist/index.js";
import {
  chatClient,
  closeChatClients,
  freePort,
  next,
  startExample,
  startProxy,
  stopExamples,
  take,
} from "./support.mjs";


after(async () => {
  closeChatClients();
  await stopExamples();
});

const connect = chatClient;

/** Resolves once `client` has reported `count` states `state`. */
const states = (client, state, count) =>
  take((f) => client.onState((change) => change.state === state && f(change)), count);

test("a client whose server is down at start keeps trying, and what waited goes once it is up", async () => {
  const port = await freePort();
  const ada = connect(`127.0.0.1:${port}`);
  const joined = ada.request("join", { room: "late", name: "ada" }, { timeoutMs: 10_000 });
  // Refused, and refused again: each attempt ends, and the next is paced.
  const refused = await states(ada, "reconnecting", 2);
  assert.deepEqual(
    refused.map(({ code, attempt }) => [code, attempt]),
    [
      [1006, 1],
      [1006, 2],
    ],
  );
  await startExample("chat", port);
  assert.deepEqual((await joined).members, ["ada"]);
  assert.equal(ada.state, "open");
});

test("a restart slower than the backoff is reconnected to, and the client is told its session is fresh", async () => {
  const server = await startExample("chat");
  const ada = connect(server.address);
  await ada.request("join", { room: "slow", name: "ada" });
  const session = next((f) => ada.onSession(f));
  await server.stop();
  // The server stays down for three refused attempts (as after a SIGKILL and a slow start).
  await states(ada, "reconnecting", 3);
  ada.emit("message", { text: "queued" });
  await startExample("chat", server.port);
  assert.deepEqual(await session, { resumed: false, reason: "unknown" });
  const { members } = await ada.request("join", { room: "slow", name: "ada" });
  assert.deepEqual(members, ["ada"]);
});

test("an attempt that never opens is given up after connectTimeoutMs, and the next one opens", async () => {
  const chat = await startExample("chat");
  const proxy = await startProxy(chat.address);
  proxy.blackHole(true);
  const began = Date.now();
  const ada = connect(proxy.address, { connectTimeoutMs: 300 });
  const given = await next((f) => ada.onState(f), ({ state }) => state === "reconnecting");
  const waited = Date.now() - began;
  assert.deepEqual([given.code, given.reason], [1006, "connect timeout"]);
  assert.ok(waited >= 300 && waited < 2000, `given up after ${waited} ms`);
  proxy.blackHole(false);
  await next((f) => ada.onState(f), ({ state }) => state === "open", 5000);
  await proxy.close();
});

test("the plain socket also recovers from a refused start", async () => {
  const port = await freePort();
  const socket = new ReconnectingSocket(`ws://127.0.0.1:${port}/echo`, {
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
  });
  socket.send("waited");
  await take((f) => socket.onState((change) => change.state === "reconnecting" && f(change)), 2);
  const echo = await startExample("echo", port);
  assert.deepEqual(await take((f) => socket.onMessage(f), 1), ["waited"]);
  socket.close();
  await echo.stop();
});

test("a silent path is noticed within two heartbeats and the session resumes with nothing lost", async () => {
  const chat = await startExample("chat");
  const proxy = await startProxy(chat.address);
  const heartbeatMs = 300;
  const ada = connect(proxy.address, { heartbeatMs });
  const bob = connect(chat.address);
  await ada.request("join", { room: "silent", name: "ada" });
  await bob.request("join", { room: "silent", name: "bob" });
  const heard = take((f) => ada.on("message", ({ text }) => f(text)), 3);
  // Nothing reaches ada any more, and nothing tells her client: no Close, no reset.
  proxy.stall(true);
  const silentSince = Date.now();
  for (const text of ["1", "2", "3"]) bob.emit("message", { text });
  const noticed = await next((f) => ada.onState(f), ({ state }) => state === "reconnecting", 5000);
  const after = Date.now() - silentSince;
  assert.deepEqual([noticed.code, noticed.reason], [1006, "heartbeat timeout"]);
  assert.ok(after <= 2 * heartbeatMs + 200, `noticed after ${after} ms`);
  proxy.stall(false);
  assert.deepEqual(await next((f) => ada.onSession(f)), { resumed: true });
  assert.deepEqual(await heard, ["1", "2", "3"]);
  await proxy.close();
});
