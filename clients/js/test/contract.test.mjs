// The AsyncAPI documents of the chat and tour examples (`./target/debug/examples/chat asyncapi >
// test/types/chat.asyncapi.json`, the same for the tour, built with `--features contract`, which
// `.ci/run` does) are valid for the official AsyncAPI parser and describe the examples' events
// with their schemas.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const read = (name) => readFileSync(new URL(`./types/${name}.asyncapi.json`, import.meta.url), "utf8");

/** The document `text` as the official parser reads it, failing on any error it reports. */
async function parse(text) {
  const { document: parsed, diagnostics } = await new Parser().parse(text);
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
  assert.deepEqual(errors, []);
  assert.ok(parsed, "the parser returned no document");
  return parsed;
}

test("the tour's AsyncAPI document is valid and describes its endpoints", async () => {
  const text = read("tour");
  const parsed = await parse(text);
  assert.equal(parsed.channels().get("example_json").address(), "/example/json");
  const json = JSON.parse(text);
  const greet = json.channels.example_json.messages.message.payload;
  assert.ok(greet.properties && Object.keys(greet.properties).length > 0, JSON.stringify(greet));
});

test("the chat's AsyncAPI document is valid and describes its events", async () => {
  const document = read("chat");
  const parsed = await parse(document);
  const chat = parsed.channels().get("chat");
  assert.equal(chat.address(), "/chat");
  const join = parsed.operations().get("chat.join");
  assert.equal(join.action(), "receive");
  const json = JSON.parse(document);
  const data = json.channels.chat.messages.join.payload.properties.data;
  assert.deepEqual(Object.keys(data.properties ?? {}).sort(), ["name", "room"]);
  assert.equal(parsed.operations().get("chat.send.message").action(), "send");
});
