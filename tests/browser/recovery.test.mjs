// The served client in Chromium notices what the network does: a server down when it starts and
// up later, and a path gone silent (the heartbeat), resumed with nothing lost. Needs what
// chat.test.mjs needs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "./support.mjs";
import { startExample, startProxy, stopExamples } from "../../clients/js/test/support.mjs";

let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopExamples();
});

/** A page of the chat at `address` with `window.client`, a GatewayClient of that chat that
 * records its states in `window.states` and its sessions in `window.sessions`. */
async function pageWithClient(address, options) {
  const page = await browser.newPage();
  await page.goto(`http://${address}/`);
  await page.evaluate(async (options) => {
    const { GatewayClient } = await import("/_gateway/index.js");
    window.states = [];
    window.sessions = [];
    window.heard = [];
    window.client = new GatewayClient(`ws://${location.host}/chat`, {
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      ...options,
    });
    window.client.onState((change) => window.states.push(change));
    window.client.onSession((change) => window.sessions.push(change));
    window.client.on("message", ({ text }) => window.heard.push(text));
  }, options);
  return page;
}

test("the page's client keeps trying while the server is down, and joins once it is up", async () => {
  const chat = await startExample("chat");
  const proxy = await startProxy(chat.address);
  const page = await browser.newPage();
  await page.goto(`http://${proxy.address}/`); // the page (and its client script) first
  await chat.stop();
  await page.evaluate(async () => {
    const { GatewayClient } = await import("/_gateway/index.js");
    window.states = [];
    window.client = new GatewayClient(`ws://${location.host}/chat`, {
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    window.client.onState((change) => window.states.push(change));
    window.joined = window.client.request("join", { room: "late", name: "ada" }, { timeoutMs: 15000 });
  });
  await page.waitForFunction(() => window.states.filter((s) => s.state === "reconnecting").length >= 2);
  await startExample("chat", chat.port);
  const { members } = await page.evaluate(() => window.joined);
  assert.deepEqual(members, ["ada"]);
  await page.close();
  await proxy.close();
});

test("the page's client notices a silent path within two heartbeats and resumes with nothing lost", async () => {
  const chat = await startExample("chat");
  const proxy = await startProxy(chat.address);
  const ada = await pageWithClient(proxy.address, { heartbeatMs: 500 });
  await ada.evaluate(() => window.client.request("join", { room: "silent", name: "ada" }));
  const bob = await pageWithClient(chat.address, {});
  await bob.evaluate(() => window.client.request("join", { room: "silent", name: "bob" }));
  proxy.stall(true);
  await bob.evaluate(() => {
    for (const text of ["1", "2", "3"]) window.client.emit("message", { text });
  });
  await ada.waitForFunction(() => window.states.some((s) => s.state === "reconnecting"), null, {
    timeout: 5000,
  });
  proxy.stall(false);
  const noticed = await ada.evaluate(() => window.states.find((s) => s.state === "reconnecting"));
  assert.deepEqual([noticed.code, noticed.reason], [1006, "heartbeat timeout"]);
  await ada.waitForFunction(() => window.heard.length === 3);
  assert.deepEqual(await ada.evaluate(() => window.sessions), [{ resumed: true }]);
  assert.deepEqual(await ada.evaluate(() => window.heard), ["1", "2", "3"]);
  await proxy.close();
});
