// What the client's tests share: the example servers (built by cargo, started on free ports),
// a TCP proxy that fails like a network, and small waiting helpers.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { GatewayClient } from "../dist/index.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const target = process.env.CARGO_TARGET_DIR ?? `${root}/target`;

/** Every chat client a test made, closed by `closeChatClients`. */
const chatClients = new Set();

/** A `GatewayClient` of the chat at `address` that reconnects quickly (20 ms, at most 200 ms). */
export function chatClient(address, options) {
  const client = new GatewayClient(`ws://${address}/chat`, {
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  chatClients.add(client);
  return client;
}

/** Closes every chat client still open. */
export function closeChatClients() {
  for (const client of chatClients) client.close();
  chatClients.clear();
}

/** Every example server started, so a failed test leaves none running (`stopExamples`). */
const started = new Set();

/** Stops every example server still running. */
export async function stopExamples() {
  await Promise.all([...started].map((server) => server.stop()));
}

/** An example server: `chat` (built with `--features redis`) or `echo`, on `port` (0: any). */
export async function startExample(name, port = 0) {
  const binary = `${target}/debug/examples/${name}`;
  if (!existsSync(binary)) {
    throw new Error(`${binary} is missing: run \`cargo build --example ${name} --features redis\``);
  }
  const child = spawn(binary, [], {
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const address = await new Promise((resolve, reject) => {
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const found = output.match(/listening on \w+:\/\/(\S+)/);
      if (found) resolve(found[1]);
    });
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code}: ${output}`)));
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const server = {
    address,
    port: Number(address.split(":").pop()),
    stop() {
      started.delete(server);
      child.kill("SIGKILL");
      return exited;
    },
  };
  started.add(server);
  return server;
}

/**
 * A TCP proxy to `upstream` (`host:port`) that can cut every connection, stall the ones open
 * (drop what the server sends on them while they look alive: a half-dead network path; a new
 * connection takes a new path, and passes), or black-hole new ones (accepted, and nothing passed
 * either way: a host that drops packets).
 */
export async function startProxy(upstream) {
  const [host, port] = upstream.split(":");
  const pairs = new Set();
  const holes = new Set();
  let blackHoling = false;
  const server = net.createServer((client) => {
    if (blackHoling) {
      holes.add(client);
      client.on("error", () => {}).on("close", () => holes.delete(client));
      return;
    }
    const server = net.connect(Number(port), host);
    const pair = { client, server, stalled: false };
    pairs.add(pair);
    client.on("data", (chunk) => server.write(chunk));
    server.on("data", (chunk) => {
      if (!pair.stalled) client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on("close", end).on("error", end);
    server.on("close", end).on("error", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${server.address().port}`,
    /** Ends every connection now: no Close frame, bytes in flight lost. */
    cut() {
      for (const { client, server } of pairs) {
        client.resetAndDestroy();
        server.resetAndDestroy();
      }
      pairs.clear();
    },
    /** Drops what the server sends on the connections open now, while on (they stay open). */
    stall(on) {
      for (const pair of pairs) pair.stalled = on;
    },
    /** Accepts new connections and passes nothing on them while on (see above). */
    blackHole(on) {
      blackHoling = on;
    },
    close() {
      this.cut();
      for (const client of holes) client.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port of 127.0.0.1 that nothing listens on (connecting to it is refused). */
export async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Resolves with the first value `subscribe` reports that `wanted` accepts. */
export function next(subscribe, wanted = () => true, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out waiting")), timeoutMs);
    const off = subscribe((value) => {
      if (!wanted(value)) return;
      clearTimeout(timer);
      off();
      resolve(value);
    });
  });
}

/** Resolves with the first `count` values `subscribe` reports, in order. */
export function take(subscribe, count, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const values = [];
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${values.length} of ${count}: ${JSON.stringify(values)}`)),
      timeoutMs,
    );
    const off = subscribe((value) => {
      values.push(value);
      if (values.length < count) return;
      clearTimeout(timer);
      off();
      resolve(values);
    });
  });
}
