// The harness's Bun baseline: Bun.serve's WebSocket server (uWebSockets underneath), written as
// Bun's docs show. `/echo` returns every message unchanged; `/broadcast` sends every text message
// to every `/broadcast` client, the sender included (ws.subscribe + server.publish). Per-message
// deflate off and no idle timeout, as the gateway runs. PORT=0 picks a free port; the first line
// says where it listens, as the other servers' do.
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 9003),
  fetch(request, server) {
    const { pathname } = new URL(request.url);
    if (server.upgrade(request, { data: { pathname } })) return undefined;
    return new Response("not found", { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    idleTimeout: 0,
    sendPings: true,
    open(ws) {
      if (ws.data.pathname === "/broadcast") ws.subscribe("broadcast");
    },
    message(ws, message) {
      if (ws.data.pathname === "/echo") ws.send(message);
      else if (ws.data.pathname === "/broadcast" && typeof message === "string") {
        server.publish("broadcast", message);
      }
    },
  },
});
console.log(`listening on ws://127.0.0.1:${server.port}`);
