// A WebSocket that reconnects: exponential backoff with jitter and a cap, connection states as
// events, and a bounded queue of what is sent while it is not open. The envelope-free half of
// the client, for plain `#[websocket]` endpoints; `GatewayClient` is built on it.

/** Where a connection is. */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** A change of state, with the close code and reason that caused it (when one did). */
export interface StateChange {
  state: ConnectionState;
  /** The Close frame's code (1006 when the connection dropped or never opened). */
  code?: number;
  reason?: string;
  /** Which reconnect attempt this is (1 for the first), while `reconnecting`. */
  attempt?: number;
  /** How long until that attempt, in milliseconds. */
  delayMs?: number;
}

/** How reconnects are paced: `initialDelayMs * factor^(attempt-1)`, capped, with jitter. */
export interface ReconnectOptions {
  /** The first delay (default 250 ms). */
  initialDelayMs?: number;
  /** The longest delay (default 10 s). */
  maxDelayMs?: number;
  /** How much each delay grows (default 2). */
  factor?: number;
  /** The fraction of each delay that is random (default 0.5: between 50 % and 100 %). */
  jitter?: number;
  /** Give up after this many attempts in a row (default: never). */
  maxAttempts?: number;
}

export interface SocketOptions {
  /** Reconnect pacing, or `false` never to reconnect. */
  reconnect?: ReconnectOptions | false;
  /**
   * How long an attempt may take to open (default 5 s): past it the attempt is given up and
   * the next one paced like any other (a host that drops packets never refuses).
   */
  connectTimeoutMs?: number;
  /** How many messages may wait while the socket is not open (default 100). */
  queueLimit?: number;
  /** The WebSocket class (default: the global one; browsers and Node 22+ have it). */
  WebSocket?: WebSocketClass;
}

/** What can be sent. */
export type Outgoing = string | ArrayBufferLike | ArrayBufferView | Blob;

/** The constructor of a standard WebSocket. */
export type WebSocketClass = new (url: string | URL, protocols?: string | string[]) => WebSocket;

/** `send` while the queue is full: the message was not sent. */
export class QueueFullError extends Error {
  constructor(limit: number) {
    super(`the send queue is full (${limit} messages wait for the connection)`);
    this.name = "QueueFullError";
  }
}

/**
 * Close codes after which reconnecting can help: the server going away or restarting, the
 * network, a server error. After any other (1000, the client's own mistakes, 1008 policy,
 * 4000–4999 the app's own) the socket stays closed.
 */
const RETRYABLE = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);

type Listener<T> = (value: T) => void;

/** A small set of listeners. */
export class Listeners<T> {
  #listeners = new Set<Listener<T>>();

  add(listener: Listener<T>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  delete(listener: Listener<T>): void {
    this.#listeners.delete(listener);
  }

  emit(value: T): void {
    for (const listener of [...this.#listeners]) listener(value);
  }
}

/**
 * A WebSocket that reconnects by itself.
 *
 * ```ts
 * const socket = new ReconnectingSocket("ws://127.0.0.1:8080/echo");
 * socket.onMessage((data) => console.log(data));
 * socket.onState(({ state, code }) => console.log(state, code));
 * socket.send("hello"); // queued until the first connection opens
 * ```
 */
export class ReconnectingSocket {
  readonly #url: string;
  readonly #reconnect: Required<ReconnectOptions> | false;
  readonly #queueLimit: number;
  readonly #connectTimeoutMs: number;
  readonly #WebSocket: WebSocketClass;
  #socket: WebSocket | undefined;
  #state: ConnectionState = "connecting";
  #queue: Outgoing[] = [];
  #attempt = 0;
  /** A connection has opened before: the next one to open is a reconnect. */
  #everOpen = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Holds `send` back while a reconnected session is being set up (see `hold`). */
  #held = false;
  readonly #messages = new Listeners<string | ArrayBuffer>();
  readonly #states = new Listeners<StateChange>();
  readonly #opens = new Listeners<{ reconnected: boolean }>();

  constructor(url: string, options: SocketOptions = {}) {
    this.#url = url;
    this.#reconnect =
      options.reconnect === false
        ? false
        : {
            initialDelayMs: 250,
            maxDelayMs: 10_000,
            factor: 2,
            jitter: 0.5,
            maxAttempts: Infinity,
            ...options.reconnect,
          };
    this.#queueLimit = options.queueLimit ?? 100;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    const WebSocketClass = options.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketClass) {
      throw new Error("no WebSocket class: use Node 22+ or pass one as `options.WebSocket`");
    }
    this.#WebSocket = WebSocketClass;
    this.#open(this.#url);
  }

  /** Where the connection is. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Sends now when open, or queues until it is (throws `QueueFullError` past the bound). */
  send(data: Outgoing): void {
    if (this.#state === "closed") throw new Error("the socket is closed");
    if (this.#state === "open" && !this.#held && this.#socket?.readyState === 1) {
      this.#socket.send(data);
      return;
    }
    if (this.#queue.length >= this.#queueLimit) throw new QueueFullError(this.#queueLimit);
    this.#queue.push(data);
  }

  /** Every message received: text as a string, binary as an ArrayBuffer. */
  onMessage(listener: Listener<string | ArrayBuffer>): () => void {
    return this.#messages.add(listener);
  }

  /** Every change of state. */
  onState(listener: Listener<StateChange>): () => void {
    return this.#states.add(listener);
  }

  /** Each time a connection opens, before queued messages are sent. */
  onOpen(listener: Listener<{ reconnected: boolean }>): () => void {
    return this.#opens.add(listener);
  }

  /** Closes for good (no reconnect); what is queued is dropped. */
  close(code = 1000, reason = ""): void {
    clearTimeout(this.#timer);
    this.#queue = [];
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close(code, reason);
    this.#setState({ state: "closed", code, reason });
  }

  /**
   * Sends `data` at once on the open connection, ahead of the queue (what a protocol says
   * first; `hold` keeps the queue back meanwhile).
   * @internal
   */
  sendFirst(data: string): void {
    this.#socket?.send(data);
  }

  /** Holds `send` in the queue (a reconnected session is being set up). @internal */
  hold(): void {
    this.#held = true;
  }

  /** Sends what waited, in order, and sends directly again. @internal */
  release(): void {
    this.#held = false;
    this.#flush();
  }

  /** Opens the next connection to `url` (the same endpoint, perhaps with a query). @internal */
  reconnectTo(url: string): void {
    this.#nextUrl = url;
  }

  /**
   * Gives up the open connection as dead (a heartbeat went unanswered) and reconnects as after
   * a drop (code 1006). Should the server still hear it, it is closed with 3008 (timeout), which
   * keeps a resumable session for its window. @internal
   */
  abandon(reason: string): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#let(socket, 3008, reason);
    this.#closed(1006, reason);
  }

  #nextUrl: string | undefined;

  #open(url: string): void {
    const socket = new this.#WebSocket(url);
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    // Every way an attempt can end leads to `#closed` once: `close`, `error` without `close`
    // (Node's WebSocket, for a refused connection), or no `open` in time.
    const giveUp = setTimeout(() => {
      if (socket !== this.#socket) return;
      this.#let(socket);
      this.#closed(1006, "connect timeout");
    }, this.#connectTimeoutMs);
    socket.onopen = () => {
      clearTimeout(giveUp);
      if (socket !== this.#socket) return;
      const reconnected = this.#everOpen;
      this.#everOpen = true;
      this.#attempt = 0;
      this.#opens.emit({ reconnected });
      this.#setState({ state: "open" });
      this.#flush();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (socket !== this.#socket) return;
      this.#messages.emit(event.data as string | ArrayBuffer);
    };
    socket.onclose = (event: CloseEvent) => {
      clearTimeout(giveUp);
      if (socket !== this.#socket) return;
      this.#socket = undefined;
      this.#closed(event.code, event.reason);
    };
    socket.onerror = () => {
      clearTimeout(giveUp);
      if (socket !== this.#socket) return;
      this.#let(socket);
      this.#closed(1006, "connection failed");
    };
  }

  /** Lets go of `socket`: none of its events count any more, and it is closed if it can be. */
  #let(socket: WebSocket, code?: number, reason?: string): void {
    this.#socket = undefined;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(code, reason);
    } catch {
      // Not open yet in a runtime that refuses to close it then: it is let go all the same.
    }
  }

  #closed(code: number, reason: string): void {
    const pacing = this.#reconnect;
    if (pacing === false || !RETRYABLE.has(code) || this.#attempt >= pacing.maxAttempts) {
      this.#queue = [];
      this.#setState({ state: "closed", code, reason });
      return;
    }
    this.#attempt += 1;
    const { initialDelayMs, maxDelayMs, factor, jitter } = pacing;
    const full = Math.min(maxDelayMs, initialDelayMs * factor ** (this.#attempt - 1));
    const delayMs = Math.round(full * (1 - jitter * Math.random()));
    this.#setState({ state: "reconnecting", code, reason, attempt: this.#attempt, delayMs });
    this.#timer = setTimeout(() => {
      const url = this.#nextUrl ?? this.#url;
      this.#nextUrl = undefined;
      this.#open(url);
    }, delayMs);
  }

  #flush(): void {
    while (!this.#held && this.#queue.length > 0 && this.#socket?.readyState === 1) {
      this.#socket.send(this.#queue.shift()!);
    }
  }

  #setState(change: StateChange): void {
    if (this.#state === "closed") return;
    this.#state = change.state;
    this.#states.emit(change);
  }
}
