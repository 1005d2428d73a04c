// The client of `#[gateway]` endpoints: the event envelope, requests matched to their answers
// with timeouts, event listeners, and the resume protocol (README, "The resume protocol"), on a
// `ReconnectingSocket`.
import { Listeners, ReconnectingSocket } from "./socket.js";
/**
 * The answer to a request was an error (`{"ack": id, "error": .., "status": ..}`). Thrown in a
 * `handle` handler, it is the error answer with its status (any other error answers 500).
 */
export class RequestError extends Error {
    status;
    constructor(message, status) {
        super(message);
        this.name = "RequestError";
        this.status = status;
    }
}
/** A request got no answer in time. */
export class TimeoutError extends Error {
    constructor(event, timeoutMs) {
        super(`no answer to \`${event}\` within ${timeoutMs} ms`);
        this.name = "TimeoutError";
    }
}
/** The connection (and its session) ended before a request's answer came. */
export class ConnectionLostError extends Error {
    constructor(why) {
        super(`the connection was lost before the answer came (${why})`);
        this.name = "ConnectionLostError";
    }
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
export class GatewayClient {
    #socket;
    #url;
    #timeoutMs;
    #resume;
    #ackEvery;
    #ackAfterMs;
    #heartbeatMs;
    #heartbeat;
    /** A `$ping` went out, and nothing has been received since. */
    #unanswered = false;
    /** The connection that dropped had opened: what went out on it is gone with it. */
    #wasOpen = false;
    #nextId = 1;
    #pending = new Map();
    #handlers = new Map();
    #answerers = new Map();
    #sessions = new Listeners();
    #errors = new Listeners();
    /** The session's token and the number of the last message received. */
    #token;
    #seq = 0;
    #acked = 0;
    #ackTimer;
    /** A `$resume` was sent on this connection and not answered yet. */
    #resuming = false;
    /** Requests numbered below this went out on a connection that dropped; later ones wait in the
     * queue for the next connection. */
    #sentBefore = 1;
    constructor(url, options = {}) {
        this.#url = url;
        this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
        this.#resume = options.resume ?? true;
        this.#ackEvery = options.ackEvery ?? 50;
        this.#ackAfterMs = options.ackAfterMs ?? 1000;
        this.#heartbeatMs = options.heartbeatMs ?? 15_000;
        this.#socket = new ReconnectingSocket(url, options);
        this.#socket.onMessage((data) => this.#received(data));
        this.#socket.onOpen(({ reconnected }) => this.#opened(reconnected));
        this.#socket.onState((change) => this.#stateChanged(change));
    }
    /** Where the connection is. */
    get state() {
        return this.#socket.state;
    }
    /** Sends an event without waiting for an answer (queued while reconnecting). */
    emit(event, data) {
        this.#socket.send(JSON.stringify(data === undefined ? { event } : { event, data }));
    }
    /**
     * Sends a request and resolves with its answer's `data`; rejects with `RequestError` (an
     * error answer), `TimeoutError`, or `ConnectionLostError` (the session ended first: a
     * resumed session keeps its requests, their answers come after the reconnect).
     */
    request(event, data, options = {}) {
        const id = this.#nextId++;
        const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.#pending.delete(id);
                reject(new TimeoutError(event, timeoutMs));
            }, timeoutMs);
            this.#pending.set(id, { resolve, reject, timer });
            try {
                this.#socket.send(JSON.stringify({ event, data, id }));
            }
            catch (error) {
                clearTimeout(timer);
                this.#pending.delete(id);
                reject(error);
            }
        });
    }
    /** Calls `handler` with the `data` of every `event` the server sends; returns `off`. */
    on(event, handler) {
        let handlers = this.#handlers.get(event);
        if (!handlers)
            this.#handlers.set(event, (handlers = new Listeners()));
        return handlers.add(handler);
    }
    /**
     * Answers the server's requests for `event` (`conn.request` on the server) with what
     * `handler` returns or resolves to; an error thrown there is the error answer (a
     * `RequestError`'s status, else 500). A request nobody handles is answered with a 404 error.
     * One handler per event (a later one replaces it); returns a function that removes it.
     */
    handle(event, handler) {
        this.#answerers.set(event, handler);
        return () => {
            if (this.#answerers.get(event) === handler)
                this.#answerers.delete(event);
        };
    }
    /** Stops calling `handler` for `event`. */
    off(event, handler) {
        this.#handlers.get(event)?.delete(handler);
    }
    /** Every change of connection state (connecting, open, reconnecting, closed). */
    onState(listener) {
        return this.#socket.onState(listener);
    }
    /** After each reconnect: the session went on, or a fresh one began (rejoin your rooms). */
    onSession(listener) {
        return this.#sessions.add(listener);
    }
    /** Error messages that answer no request (a message the server could not route). */
    onError(listener) {
        return this.#errors.add(listener);
    }
    /** Closes for good: the session ends (Close 1000); pending requests are rejected. */
    close() {
        this.#stopHeartbeat();
        this.#acknowledge();
        this.#socket.close(1000, "");
        this.#rejectAll("closed by the client");
    }
    #opened(reconnected) {
        this.#wasOpen = true;
        this.#startHeartbeat();
        if (reconnected && this.#token !== undefined && this.#resume) {
            this.#socket.hold();
            this.#resuming = true;
            this.#socket.sendFirst(JSON.stringify({ event: "$resume", data: { token: this.#token, seq: this.#seq } }));
        }
        else if (reconnected && this.#token === undefined) {
            // Not a resumable endpoint: every connection is a fresh session (what went out on the
            // last one was rejected when it dropped; what waited is sent now).
            this.#sessions.emit({ resumed: false });
        }
    }
    #stateChanged(change) {
        if (change.state !== "open")
            this.#stopHeartbeat();
        if (change.state === "reconnecting") {
            const resuming = this.#token !== undefined && this.#resume;
            if (resuming)
                this.#socket.reconnectTo(withResume(this.#url));
            // An attempt that never opened sent nothing: what waits, waits on.
            if (!this.#wasOpen)
                return;
            this.#wasOpen = false;
            this.#sentBefore = this.#nextId;
            this.#resuming = false;
            clearTimeout(this.#ackTimer);
            this.#ackTimer = undefined;
            if (!resuming)
                this.#rejectAll(`closed with ${change.code}`);
        }
        else if (change.state === "closed") {
            clearTimeout(this.#ackTimer);
            this.#rejectAll(`closed with ${change.code}`);
        }
    }
    #received(data) {
        this.#unanswered = false;
        if (typeof data !== "string") {
            this.#counted();
            return;
        }
        let message;
        try {
            message = JSON.parse(data);
        }
        catch {
            this.#counted();
            return;
        }
        if (message?.event === "$session") {
            const fresh = this.#token !== undefined;
            this.#token = message.data.token;
            this.#seq = 0;
            this.#acked = 0;
            if (fresh) {
                // Answers to what went out before the drop are gone with the old session; what waited
                // in the queue is sent on this one.
                const why = `a fresh session began: ${message.data.reason ?? "reconnected"}`;
                this.#rejectAll(why, this.#sentBefore);
                this.#sessions.emit({ resumed: false, reason: message.data.reason });
            }
            this.#settled();
            return;
        }
        if (message?.event === "$pong")
            return;
        if (message?.event === "$resumed") {
            this.#seq = message.data.seq;
            this.#acked = Math.min(this.#acked, this.#seq);
            this.#sessions.emit({ resumed: true });
            this.#settled();
            return;
        }
        this.#counted();
        if (typeof message?.ack === "number") {
            const pending = this.#pending.get(message.ack);
            if (!pending)
                return;
            this.#pending.delete(message.ack);
            clearTimeout(pending.timer);
            if ("error" in message)
                pending.reject(new RequestError(message.error, message.status));
            else
                pending.resolve(message.data);
            return;
        }
        if (typeof message?.event === "string" && typeof message.id === "number") {
            void this.#answer(message.event, message.data, message.id);
            return;
        }
        if (typeof message?.event === "string") {
            this.#handlers.get(message.event)?.emit(message.data);
            return;
        }
        if (typeof message?.error === "string") {
            this.#errors.emit(new RequestError(message.error, message.status));
        }
    }
    /** Answers the server's request `id` (queued like any message while reconnecting). */
    async #answer(event, data, id) {
        const handler = this.#answerers.get(event);
        let answer;
        if (!handler) {
            answer = { ack: id, error: `no handler for \`${event}\``, status: 404 };
        }
        else {
            try {
                answer = { ack: id, data: (await handler(data)) ?? null };
            }
            catch (error) {
                const status = error instanceof RequestError ? error.status : 500;
                answer = { ack: id, error: error instanceof Error ? error.message : String(error), status };
            }
        }
        try {
            this.#socket.send(JSON.stringify(answer));
        }
        catch {
            // Closed, or the queue is full while reconnecting: the answer is dropped, and the
            // server's request ends in its timeout (never an unhandled rejection).
        }
    }
    /** Sends `$ping` every interval; a tick that finds the last one unanswered (nothing at all
     * received since) gives the connection up. Checked on the tick that pings, so a tab whose
     * timers are throttled only notices later, never wrongly. */
    #startHeartbeat() {
        this.#stopHeartbeat();
        if (this.#heartbeatMs <= 0)
            return;
        this.#unanswered = false;
        this.#heartbeat = setInterval(() => {
            if (this.#unanswered) {
                this.#socket.abandon("heartbeat timeout");
                return;
            }
            this.#unanswered = true;
            this.#socket.sendFirst('{"event":"$ping"}');
        }, this.#heartbeatMs);
    }
    #stopHeartbeat() {
        clearInterval(this.#heartbeat);
        this.#heartbeat = undefined;
    }
    /** The resume handshake is answered: queued messages may go. */
    #settled() {
        if (this.#resuming) {
            this.#resuming = false;
            this.#socket.release();
        }
    }
    /** One more numbered message arrived (resumable sessions only); acknowledge in batches. */
    #counted() {
        if (this.#token === undefined)
            return;
        this.#seq += 1;
        if (this.#seq - this.#acked >= this.#ackEvery) {
            this.#acknowledge();
        }
        else if (this.#ackTimer === undefined) {
            this.#ackTimer = setTimeout(() => this.#acknowledge(), this.#ackAfterMs);
        }
    }
    #acknowledge() {
        clearTimeout(this.#ackTimer);
        this.#ackTimer = undefined;
        if (this.#token === undefined || this.#seq === this.#acked || this.#socket.state !== "open") {
            return;
        }
        this.#acked = this.#seq;
        this.#socket.sendFirst(JSON.stringify({ event: "$ack", data: this.#seq }));
    }
    /** Rejects the pending requests (numbered below `before`). */
    #rejectAll(why, before = Infinity) {
        for (const [id, pending] of this.#pending) {
            if (id >= before)
                continue;
            clearTimeout(pending.timer);
            pending.reject(new ConnectionLostError(why));
            this.#pending.delete(id);
        }
    }
}
/** `url` with `resume` added to its query. */
function withResume(url) {
    const [base, hash] = url.split("#", 2);
    const separator = base.includes("?") ? "&" : "?";
    return `${base}${separator}resume${hash === undefined ? "" : `#${hash}`}`;
}
