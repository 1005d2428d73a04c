#!/usr/bin/env node
// Turns a gateway app's AsyncAPI document (`App::asyncapi`) into a TypeScript module: for each
// gateway, a `Contract` type so that `new GatewayClient<ChatContract>(url).request("join", ..)`
// and `.on("message", ..)` are checked by tsc (a wrong event, field or answer type is a type
// error). The schemas become types through json-schema-to-typescript.
//
//   node bin/contract-ts.mjs chat.asyncapi.json > chat-contract.ts
import { readFileSync } from "node:fs";
import { compile } from "json-schema-to-typescript";

const [file] = process.argv.slice(2);
if (!file) {
  console.error("usage: contract-ts.mjs <asyncapi.json>  (writes the TypeScript module to stdout)");
  process.exit(2);
}
const document = JSON.parse(readFileSync(file, "utf8"));

const pascal = (name) =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join("");

// Every event's data and answer as a named definition of one schema, compiled at once so the
// types they share (`components.schemas`) are declared once.
const definitions = {};
const contracts = [];
for (const [id, channel] of Object.entries(document.channels ?? {})) {
  if (channel["x-gateway"]?.kind !== "gateway") continue;
  const requests = [];
  const events = [];
  for (const [key, message] of Object.entries(channel.messages ?? {})) {
    if (key.endsWith(".reply")) continue;
    if (key.endsWith(".sent")) {
      const event = message.payload.properties.event.const;
      const sentType = `${pascal(id)}${pascal(event)}Sent`;
      definitions[sentType] = { ...message.payload.properties.data, title: sentType };
      events.push(`    ${JSON.stringify(event)}: ${sentType};`);
      continue;
    }
    const event = message.payload.properties.event.const;
    const dataType = `${pascal(id)}${pascal(event)}Data`;
    const data = message.payload.properties.data;
    definitions[dataType] = { ...data, title: dataType };
    const reply = channel.messages[`${key}.reply`];
    let replyType = "null";
    if (reply) {
      replyType = `${pascal(id)}${pascal(event)}Reply`;
      definitions[replyType] = { ...reply.payload.properties.data, title: replyType };
    }
    requests.push(`    ${JSON.stringify(event)}: { data: ${dataType}; reply: ${replyType} };`);
  }
  contracts.push(
    [
      `/** What \`${channel.address}\` accepts and answers. */`,
      `export interface ${pascal(id)}Contract extends Contract {`,
      "  requests: {",
      ...requests,
      "  };",
      ...(events.length > 0
        ? ["  events: {", ...events, "  };"]
        : ["  events: Record<string, any>;"]),
      "}",
    ].join("\n"),
  );
}

const types = await compile(
  {
    title: "Schemas",
    type: "object",
    additionalProperties: false,
    definitions,
    components: document.components,
  },
  "Schemas",
  { bannerComment: "", unreachableDefinitions: true, additionalProperties: false, format: false },
);
const title = document.info?.title ?? "the app";
process.stdout.write(
  [
    `// Generated from the AsyncAPI document of ${title} by clients/js/bin/contract-ts.mjs. Do not edit.`,
    `import type { Contract } from "@gateway/client";`,
    types
      .replace(/export interface Schemas \{\s*\}\n?/, "")
      .replace(/\/\*\*\n \* This interface was referenced by[^]*?\*\/\n/g, ""),
    ...contracts,
    "",
  ].join("\n"),
);
