// The official client of gateway servers. `GatewayClient` for `#[gateway]` endpoints (events,
// requests, resumable sessions), `ReconnectingSocket` for plain `#[websocket]` ones.
export { ReconnectingSocket, QueueFullError } from "./socket.js";
export { GatewayClient, RequestError, TimeoutError, ConnectionLostError, } from "./gateway.js";
