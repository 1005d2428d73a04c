// How long a client takes from losing its connection to the first message it missed: the
// network cuts it (a proxy resets it), the client reconnects (with the first backoff delay),
// resumes, and the server replays. And when the path goes silent instead (nothing arrives, and
// nothing says so): the heartbeat notices, then the same. `npm run bench` (needs the chat
// example, built by cargo).
import { GatewayClient } from "../dist/index.js";
import { next, startExample, startProxy } from "../test/support.mjs";

const ROUNDS = 50;

/** The median and 99th percentile of `times`, in milliseconds. */
function percentiles(times) {
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.round((times.length - 1) * q)].toFixed(1);
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`;
}

async function measure(chat, initialDelayMs) {
  const proxy = await startProxy(chat.address);
  const options = { reconnect: { initialDelayMs, maxDelayMs: 1000 } };
  const ada = new GatewayClient(`ws://${proxy.address}/chat`, options);
  const bob = new GatewayClient(`ws://${chat.address}/chat`, options);
  await ada.request("join", { room: "bench", name: "ada" });
  await bob.request("join", { room: "bench", name: "bob" });
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    const missed = next((f) => ada.on("message", f), ({ text }) => text === `missed ${round}`);
    proxy.stall(true);
    // Answered once the server has sent it to ada, into the stalled path.
    await bob.request("message", { text: `missed ${round}` });
    const cut = performance.now();
    proxy.cut();
    proxy.stall(false);
    await missed;
    times.push(performance.now() - cut);
  }
  ada.close();
  bob.close();
  await proxy.close();
  return percentiles(times);
}

const SILENT_ROUNDS = 20;

async function measureSilent(chat, heartbeatMs) {
  const proxy = await startProxy(chat.address);
  const options = { reconnect: { initialDelayMs: 1, maxDelayMs: 1000 } };
  const ada = new GatewayClient(`ws://${proxy.address}/chat`, { ...options, heartbeatMs });
  const bob = new GatewayClient(`ws://${chat.address}/chat`, options);
  await ada.request("join", { room: "bench-silent", name: "ada" });
  await bob.request("join", { room: "bench-silent", name: "bob" });
  // The path heals as soon as the client has given the silent connection up.
  ada.onState(({ state }) => state === "reconnecting" && proxy.stall(false));
  const times = [];
  for (let round = 0; round < SILENT_ROUNDS; round++) {
    const missed = next(
      (f) => ada.on("message", f),
      ({ text }) => text === `silent ${round}`,
      4 * heartbeatMs,
    );
    proxy.stall(true);
    const silent = performance.now();
    await bob.request("message", { text: `silent ${round}` });
    await missed;
    times.push(performance.now() - silent);
  }
  ada.close();
  bob.close();
  await proxy.close();
  return percentiles(times);
}

const chat = await startExample("chat");
console.log(`silent → first missed message, heartbeat 1 s:                 ${await measureSilent(chat, 1000)}`);
console.log(`cut → first missed message, first backoff 250 ms (default): ${await measure(chat, 250)}`);
console.log(`cut → first missed message, first backoff 1 ms:            ${await measure(chat, 1)}`);
await chat.stop();
