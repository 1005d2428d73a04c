// Two people chat in two browser pages: join a room in each, talk, and hear an announcement.
// Needs `cargo build --example chat --features redis` (the same binary serves cluster.test.mjs)
// and Debian's chromium (/usr/bin/chromium); .ci/run builds and installs both, and redis-server
// for the cluster test. Run: `cd tests/browser && npm install --no-package-lock && npm test`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { example, join, launchChromium, openChat, startAndWaitFor, stopAll } from "./support.mjs";
import { startProxy } from "../../clients/js/test/support.mjs";

let baseUrl;
let browser;

before(async () => {
  browser = await launchChromium();
  baseUrl = await startAndWaitFor(example, [], { PORT: "0", ANNOUNCE_TOKEN: "browser-test" }, /listening on (http:\/\/\S+)/);
});

after(async () => {
  await browser?.close();
  stopAll();
});

async function joinAs(name, room) {
  const page = await openChat(browser, baseUrl);
  await join(page, name, room);
  return page;
}

test("two pages chat in one room and both hear an announcement", async () => {
  const ada = await joinAs("ada", "lobby");
  const bob = await joinAs("bob", "lobby");
  assert.equal(await bob.textContent("#members"), "ada, bob");
  await ada.locator("#users").filter({ hasText: "2" }).waitFor();

  await ada.fill("#text", "hello from ada");
  await ada.click("#say-form button");
  await bob.locator("#log li", { hasText: "ada: hello from ada" }).waitFor();

  const response = await fetch(`${baseUrl}/announce`, {
    method: "POST",
    headers: { authorization: "Bearer browser-test" },
    body: "maintenance at noon",
  });
  assert.equal(response.status, 202);
  for (const page of [ada, bob]) {
    await page.locator("#log li.announce", { hasText: "announcement: maintenance at noon" }).waitFor();
  }
});

test("a page whose connection is cut resumes and misses nothing, on the served client", async () => {
  // The page is loaded through a proxy, so its WebSocket goes through it too.
  const proxy = await startProxy(new URL(baseUrl).host);
  const ada = await openChat(browser, `http://${proxy.address}`);
  await join(ada, "ada", "garden");
  const bob = await joinAs("bob", "garden");

  proxy.cut();
  await ada.locator("#status", { hasText: "reconnecting" }).waitFor();
  for (const n of [1, 2, 3]) {
    await bob.fill("#text", `while you were away ${n}`);
    await bob.click("#say-form button");
  }
  await ada.locator("#status", { hasText: /^connected$/ }).waitFor();
  await ada.locator("#log li", { hasText: "bob: while you were away 3" }).waitFor();
  const heard = await ada.locator("#log li", { hasText: "while you were away" }).allTextContents();
  assert.deepEqual(heard, [1, 2, 3].map((n) => `bob: while you were away ${n}`));
  // Still in the garden: what she says reaches bob.
  await ada.fill("#text", "back");
  await ada.click("#say-form button");
  await bob.locator("#log li", { hasText: "ada: back" }).waitFor();
  await proxy.close();
});
