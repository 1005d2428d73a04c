// The official client of gateway servers. `GatewayClient` for `#[gateway]` endpoints (events,
// requests, resumable sessions), `ReconnectingSocket` for plain `#[websocket]` ones.

export { ReconnectingSocket, QueueFullError } from "./socket.js";
export type {
  ConnectionState,
  StateChange,
  ReconnectOptions,
  SocketOptions,
  Outgoing,
  WebSocketClass,
} from "./socket.js";
export {
  GatewayClient,
  RequestError,
  TimeoutError,
  ConnectionLostError,
} from "./gateway.js";
export type { Contract, AnyContract, GatewayOptions, SessionChange } from "./gateway.js";
