// Two people chat in two browser pages: join a room in each, talk, and hear an announcement.
// Needs `cargo build --example chat` and Debian's chromium (/usr/bin/chromium); both are
// installed by .ci/run. Run: `cd tests/browser && npm install --no-package-lock && npm test`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const root = fileURLToPath(new URL("../..", import.meta.url));
const example = `${root}/target/debug/examples/chat`;

let server;
let baseUrl;
let browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  assert.ok(existsSync(example), `${example} is missing: cargo build --example chat`);
  server = spawn(example, { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "inherit"] });
  baseUrl = await new Promise((resolve, reject) => {
    let output = "";
    server.stdout.on("data", (chunk) => {
      output += chunk;
      const match = output.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
    server.on("exit", (code) => reject(new Error(`the chat example exited with ${code}`)));
  });
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
  server?.kill();
});

async function joinAs(name, room) {
  const page = await browser.newPage();
  await page.goto(`${baseUrl}/`);
  await page.locator("#status").filter({ hasText: "connected" }).waitFor();
  await page.fill("#name", name);
  await page.fill("#room", room);
  await page.click("#join-form button");
  await page.locator("#current-room").filter({ hasText: room }).waitFor();
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

  const response = await fetch(`${baseUrl}/announce`, { method: "POST", body: "maintenance at noon" });
  assert.equal(response.status, 202);
  for (const page of [ada, bob]) {
    await page.locator("#log li.announce", { hasText: "announcement: maintenance at noon" }).waitFor();
  }
});
