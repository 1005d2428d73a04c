// Compiled by `npm run typecheck` against the contract generated from the chat example's
// AsyncAPI document: a correct call compiles, and each `@ts-expect-error` line must fail to
// (tsc reports an expectation that is not an error), so a wrong event, field or answer type
// is caught.
import { GatewayClient } from "@gateway/client";
import type { ChatContract } from "./chat-contract.js";

export async function typed(chat: GatewayClient<ChatContract>): Promise<string[]> {
  const { members } = await chat.request("join", { room: "lobby", name: "ada" });
  chat.emit("message", { text: "hello" });
  chat.emit("leave");
  chat.on("message", ({ from, room, text }) => console.log(from ?? "someone", room, text));
  chat.on("users", ({ count }) => console.log(count + 1));

  // @ts-expect-error: no such event
  await chat.request("jion", { room: "lobby", name: "ada" });
  // @ts-expect-error: a misspelled field
  await chat.request("join", { rooom: "lobby", name: "ada" });
  // @ts-expect-error: a field of the wrong type
  chat.emit("message", { text: 42 });
  // @ts-expect-error: no event of that name is sent
  chat.on("mesage", () => {});
  // @ts-expect-error: a sent message has no `body`
  chat.on("message", ({ body }) => console.log(body));
  // @ts-expect-error: the answer's members are strings
  const count: number[] = (await chat.request("join", { room: "lobby", name: "ada" })).members;

  return [...members, ...count.map(String)];
}
