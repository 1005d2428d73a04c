// What the browser tests share: Debian's Chromium, the chat example's binary, and starting a
// process that says where it listens.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const root = fileURLToPath(new URL("../..", import.meta.url));
export const example = `${root}/target/debug/examples/chat`;

const processes = [];

// Headless Chromium, failing loudly when it or the chat example is missing.
export async function launchChromium() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  assert.ok(existsSync(example), `${example} is missing: cargo build --example chat --features redis`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

// Starts `command` and resolves with the first capture of `pattern` in its output.
export function startAndWaitFor(command, args, env, pattern) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  processes.push(child);
  return new Promise((resolve, reject) => {
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = output.match(pattern);
      if (match) resolve(match[1]);
    });
    child.on("error", (error) => reject(new Error(`cannot run ${command}: ${error.message}`)));
    child.on("exit", (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
  });
}

// Stops every process `startAndWaitFor` started.
export function stopAll() {
  for (const child of processes.splice(0)) child.kill();
}

// Opens the chat page and waits until its WebSocket is connected.
export async function openChat(browser, baseUrl) {
  const page = await browser.newPage();
  await page.goto(`${baseUrl}/`);
  await page.locator("#status").filter({ hasText: "connected" }).waitFor();
  return page;
}

// Joins `room` as `name` on an open chat page.
export async function join(page, name, room) {
  await page.fill("#name", name);
  await page.fill("#room", room);
  await page.click("#join-form button");
  await page.locator("#current-room").filter({ hasText: room }).waitFor();
}
