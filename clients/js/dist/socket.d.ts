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
export declare class QueueFullError extends Error {
    constructor(limit: number);
}
type Listener<T> = (value: T) => void;
/** A small set of listeners. */
export declare class Listeners<T> {
    #private;
    add(listener: Listener<T>): () => void;
    delete(listener: Listener<T>): void;
    emit(value: T): void;
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
export declare class ReconnectingSocket {
    #private;
    constructor(url: string, options?: SocketOptions);
    /** Where the connection is. */
    get state(): ConnectionState;
    /** Sends now when open, or queues until it is (throws `QueueFullError` past the bound). */
    send(data: Outgoing): void;
    /** Every message received: text as a string, binary as an ArrayBuffer. */
    onMessage(listener: Listener<string | ArrayBuffer>): () => void;
    /** Every change of state. */
    onState(listener: Listener<StateChange>): () => void;
    /** Each time a connection opens, before queued messages are sent. */
    onOpen(listener: Listener<{
        reconnected: boolean;
    }>): () => void;
    /** Closes for good (no reconnect); what is queued is dropped. */
    close(code?: number, reason?: string): void;
    /**
     * Sends `data` at once on the open connection, ahead of the queue (what a protocol says
     * first; `hold` keeps the queue back meanwhile).
     * @internal
     */
    sendFirst(data: string): void;
    /** Holds `send` in the queue (a reconnected session is being set up). @internal */
    hold(): void;
    /** Sends what waited, in order, and sends directly again. @internal */
    release(): void;
    /** Opens the next connection to `url` (the same endpoint, perhaps with a query). @internal */
    reconnectTo(url: string): void;
    /**
     * Gives up the open connection as dead (a heartbeat went unanswered) and reconnects as after
     * a drop (code 1006). Should the server still hear it, it is closed with 3008 (timeout), which
     * keeps a resumable session for its window. @internal
     */
    abandon(reason: string): void;
}
export {};
