// The chat example's AsyncAPI document (`cargo run --example chat --features redis,contract --
// asyncapi > test/types/chat.asyncapi.json`, which `.ci/run` does) is valid for the official
// AsyncAPI parser, and describes the chat's events with their schemas.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const document = readFileSync(new URL("./types/chat.asyncapi.json", import.meta.url), "utf8");

test("the chat's AsyncAPI document is valid and describes its events", async () => {
  const { document: parsed, diagnostics } = await new Parser().parse(document);
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
  assert.deepEqual(errors, []);
  assert.ok(parsed, "the parser returned no document");
  const chat = parsed.channels().get("chat");
  assert.equal(chat.address(), "/chat");
  const join = parsed.operations().get("chat.join");
  assert.equal(join.action(), "receive");
  const json = JSON.parse(document);
  const data = json.channels.chat.messages.join.payload.properties.data;
  assert.deepEqual(Object.keys(data.properties ?? {}).sort(), ["name", "room"]);
});
