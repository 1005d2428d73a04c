import type { SocketOptions, StateChange } from "./socket.js";
/**
 * What a gateway accepts and sends, for typed calls: `requests` maps an event to the `data` it
 * takes and the `data` of its answer, `events` maps what the server pushes to its `data`. The
 * contract generator writes one from the server's handlers; `AnyContract` takes anything.
 */
export interface Contract {
    requests: Record<string, {
        data: unknown;
        reply: unknown;
    }>;
    events: Record<string, unknown>;
}
/** A contract that types nothing. */
export interface AnyContract extends Contract {
    requests: Record<string, {
        data: any;
        reply: any;
    }>;
    events: Record<string, any>;
}
/** What the server asks of the client (`conn.request`), when a contract says: `data` and `reply`. */
type Asks<C> = C extends {
    asks: infer A;
} ? A : Record<string, {
    data: any;
    reply: any;
}>;
type AskData<C, E extends string> = Asks<C> extends Record<E, {
    data: infer D;
}> ? D : any;
type AskReply<C, E extends string> = Asks<C> extends Record<E, {
    reply: infer R;
}> ? R : any;
export interface GatewayOptions extends SocketOptions {
    /** How long `request` waits for its answer by default (10 s). */
    requestTimeoutMs?: number;
    /** Resume the session after a reconnect when the endpoint is resumable (default true). */
    resume?: boolean;
    /** Acknowledge after this many messages (default 50)... */
    ackEvery?: number;
    /** ...or this long after the first one not yet acknowledged (default 1 s). */
    ackAfterMs?: number;
    /**
     * Every this many milliseconds the client sends `$ping` (default 15 s; 0 for never); a tick
     * that finds nothing received since the last one gives the connection up as dead and
     * reconnects (resuming the session). A silent connection is noticed within two intervals.
     */
    heartbeatMs?: number;
}
/** A session began: after a reconnect, whether it went on (`resumed`) or is a fresh one. */
export interface SessionChange {
    resumed: boolean;
    /** Why a reconnect got a fresh session: `expired`, `unknown` or `lost`. */
    reason?: string;
}
/**
 * The answer to a request was an error (`{"ack": id, "error": .., "status": ..}`). Thrown in a
 * `handle` handler, it is the error answer with its status (any other error answers 500).
 */
export declare class RequestError extends Error {
    readonly status: number;
    constructor(message: string, status: number);
}
/** A request got no answer in time. */
export declare class TimeoutError extends Error {
    constructor(event: string, timeoutMs: number);
}
/** The connection (and its session) ended before a request's answer came. */
export declare class ConnectionLostError extends Error {
    constructor(why: string);
}
/**
 * A client of one `#[gateway]` endpoint.
 *
 * ```ts
 * const chat = new GatewayClient("ws://127.0.0.1:8080/chat");
 * chat.on("message", ({ from, text }) => console.log(`${from}: ${text}`));
 * const { members } = await chat.request("join", { room: "lobby", name: "ada" }, { timeoutMs: 5000 });
 * chat.emit("message", { text: "hello" });
 * ```
 */
export declare class GatewayClient<C extends Contract = AnyContract> {
    #private;
    constructor(url: string, options?: GatewayOptions);
    /** Where the connection is. */
    get state(): StateChange["state"];
    /** Sends an event without waiting for an answer (queued while reconnecting). */
    emit<E extends keyof C["requests"] & string>(event: E, data?: C["requests"][E]["data"]): void;
    /**
     * Sends a request and resolves with its answer's `data`; rejects with `RequestError` (an
     * error answer), `TimeoutError`, or `ConnectionLostError` (the session ended first: a
     * resumed session keeps its requests, their answers come after the reconnect).
     */
    request<E extends keyof C["requests"] & string>(event: E, data: C["requests"][E]["data"], options?: {
        timeoutMs?: number;
    }): Promise<C["requests"][E]["reply"]>;
    /** Calls `handler` with the `data` of every `event` the server sends; returns `off`. */
    on<E extends keyof C["events"] & string>(event: E, handler: (data: C["events"][E]) => void): () => void;
    /**
     * Answers the server's requests for `event` (`conn.request` on the server) with what
     * `handler` returns or resolves to; an error thrown there is the error answer (a
     * `RequestError`'s status, else 500). A request nobody handles is answered with a 404 error.
     * One handler per event (a later one replaces it); returns a function that removes it.
     */
    handle<E extends string>(event: E, handler: (data: AskData<C, E>) => AskReply<C, E> | Promise<AskReply<C, E>>): () => void;
    /** Stops calling `handler` for `event`. */
    off<E extends keyof C["events"] & string>(event: E, handler: (data: C["events"][E]) => void): void;
    /** Every change of connection state (connecting, open, reconnecting, closed). */
    onState(listener: (change: StateChange) => void): () => void;
    /** After each reconnect: the session went on, or a fresh one began (rejoin your rooms). */
    onSession(listener: (change: SessionChange) => void): () => void;
    /** Error messages that answer no request (a message the server could not route). */
    onError(listener: (error: RequestError) => void): () => void;
    /** Closes for good: the session ends (Close 1000); pending requests are rejected. */
    close(): void;
}
export {};
