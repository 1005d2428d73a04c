// The chat example as a cluster: two instances on two ports share one Redis, a browser page on
// each. Needs `cargo build --example chat --features redis`, Debian's chromium and redis-server;
// .ci/run installs all three. Run: `cd tests/browser && npm install --no-package-lock && npm test`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const root = fileURLToPath(new URL("../..", import.meta.url));
const example = `${root}/target/debug/examples/chat`;

const processes = [];
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

// Starts `command` and resolves with the first match of `pattern` in its output.
function startAndWaitFor(command, args, env, pattern) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  processes.push(child);
  return new Promise((resolve, reject) => {
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = output.match(pattern);
      if (match) resolve(match[1]);
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
  });
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  assert.ok(existsSync(example), `${example} is missing: cargo build --example chat --features redis`);
  const redisServer = spawnSync("redis-server", ["--version"]);
  assert.ok(!redisServer.error, "redis-server is missing: apt-get install -y redis-server");

  const redisPort = await freePort();
  await startAndWaitFor(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(redisPort), "--save", "", "--appendonly", "no"],
    {},
    /(Ready to accept connections)/,
  );
  const env = { PORT: "0", REDIS_URL: `redis://127.0.0.1:${redisPort}` };
  instances = await Promise.all(
    [1, 2].map(() => startAndWaitFor(example, [], env, /listening on (http:\/\/\S+)/)),
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  for (const child of processes) child.kill();
});

async function openOn(baseUrl) {
  const page = await browser.newPage();
  await page.goto(`${baseUrl}/`);
  await page.locator("#status").filter({ hasText: "connected" }).waitFor();
  return page;
}

async function join(page, name, room) {
  await page.fill("#name", name);
  await page.fill("#room", room);
  await page.click("#join-form button");
  await page.locator("#current-room").filter({ hasText: room }).waitFor();
}

test("pages on two instances chat in one room and both hear an announcement", async () => {
  const ada = await openOn(instances[0]);
  const bob = await openOn(instances[1]);
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

  const response = await fetch(`${instances[1]}/announce`, { method: "POST", body: "cluster-wide" });
  assert.equal(response.status, 202);
  for (const page of [ada, bob]) {
    await page.locator("#log li.announce", { hasText: "announcement: cluster-wide" }).waitFor();
  }
});
