// The chat example as a cluster: two instances on two ports share one Redis, a browser page on
// each. Needs `cargo build --example chat --features redis`, Debian's chromium and redis-server;
// .ci/run installs all three. Run: `cd tests/browser && npm install --no-package-lock && npm test`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { example, join, launchChromium, openChat, startAndWaitFor, stopAll } from "./support.mjs";

let browser;
let instances;

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

before(async () => {
  browser = await launchChromium();
  const redisPort = await freePort();
  await startAndWaitFor(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(redisPort), "--save", "", "--appendonly", "no"],
    {},
    /(Ready to accept connections)/,
  ).catch((error) => {
    throw new Error(`${error.message} (Debian: apt-get install -y redis-server)`);
  });
  const env = { PORT: "0", REDIS_URL: `redis://127.0.0.1:${redisPort}`, ANNOUNCE_TOKEN: "browser-test" };
  instances = await Promise.all(
    [1, 2].map(() => startAndWaitFor(example, [], env, /listening on (http:\/\/\S+)/)),
  );
});

after(async () => {
  await browser?.close();
  stopAll();
});

test("pages on two instances chat in one room and both hear an announcement", async () => {
  const ada = await openChat(browser, instances[0]);
  const bob = await openChat(browser, instances[1]);
  await join(ada, "ada", "lobby");
  // Instance 2 learns of ada's join through Redis; bob's join lists her once it has.
  const deadline = Date.now() + 10_000;
  for (;;) {
    await join(bob, "bob", "lobby");
    if ((await bob.textContent("#members")) === "ada, bob") break;
    assert.ok(Date.now() < deadline, `bob's members: ${await bob.textContent("#members")}`);
  }
  await ada.locator("#users").filter({ hasText: "2" }).waitFor();
  await bob.locator("#users").filter({ hasText: "2" }).waitFor();

  await ada.fill("#text", "hello from instance 1");
  await ada.click("#say-form button");
  await bob.locator("#log li", { hasText: "ada: hello from instance 1" }).waitFor();
  await bob.fill("#text", "hello from instance 2");
  await bob.click("#say-form button");
  await ada.locator("#log li", { hasText: "bob: hello from instance 2" }).waitFor();

  const response = await fetch(`${instances[1]}/announce`, {
    method: "POST",
    headers: { authorization: "Bearer browser-test" },
    body: "cluster-wide",
  });
  assert.equal(response.status, 202);
  for (const page of [ada, bob]) {
    await page.locator("#log li.announce", { hasText: "announcement: cluster-wide" }).waitFor();
  }
});
