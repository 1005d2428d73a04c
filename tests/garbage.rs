//! The whole server under garbage: after a real handshake, clients send malformed frames, seeded
//! random bytes and mutations of valid traffic, in pieces of every size. Each connection must end
//! (a Close frame with the code RFC 6455 asks for, or the TCP connection closing) within 2 s of
//! its last byte, or stay open costing no CPU; the process's CPU stays low once they stop; and a
//! well-behaved client is answered throughout. The same for a gateway (envelopes, `$resume`,
//! `$ack`) and an event stream.

mod common;

use common::procfs::cpu_time;
use common::raw::{
    frame, header, Outcome, RawClient, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_TEXT,
};
use gateway::prelude::*;
use gateway::test::{start, Client, SseReader};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a connection may take to end after its last byte.
const ENDS_WITHIN: Duration = Duration::from_secs(2);

/// The process's CPU over this long, once the garbage has stopped, must stay under
/// [`IDLE_CPU_BOUND`]: a worker caught in a loop would use all of it.
const IDLE_WINDOW: Duration = Duration::from_secs(1);
const IDLE_CPU_BOUND: Duration = Duration::from_millis(200);

/// Tests that measure this process's CPU run one at a time (they share the process).
static CPU: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Echo;

#[controller("")]
impl Echo {
    #[websocket("echo", max_message = "64KiB")]
    async fn echo(&self, #[body] message: Message) -> Message {
        message
    }
}

#[derive(serde::Deserialize)]
struct Point {
    #[allow(dead_code, reason = "bound to prove the JSON decoded")]
    x: i64,
}

struct Events;

#[gateway("events", resume = "1m")]
impl Events {
    #[subscribe("echo")]
    async fn echo(&self, #[body] value: Json<serde_json::Value>) -> Json<serde_json::Value> {
        value
    }

    #[subscribe("point")]
    async fn point(&self, #[body] Json(_): Json<Point>) -> &'static str {
        "ok"
    }

    #[subscribe("field")]
    async fn field(&self, #[body("a.b.c")] value: String) -> String {
        value
    }

    #[subscribe("join")]
    async fn join(&self, #[body] room: String, conn: Connection) {
        conn.join(room);
    }
}

async fn serve() -> SocketAddr {
    start(
        App::new()
            .controller(Echo)
            .controller(common::Feed)
            .gateway(Events),
    )
    .await
}

/// Deterministic bytes from a seed (xorshift64*), so a failure can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Between 1 and `most` random bytes.
    fn some_bytes(&mut self, most: usize) -> Vec<u8> {
        let len = 1 + self.below(most);
        self.bytes(len)
    }
}

/// Sends `bytes` in pieces of `piece` bytes (each its own write), then waits for the outcome.
async fn attack(addr: SocketAddr, path: &str, bytes: &[u8], piece: usize) -> Outcome {
    let mut client = RawClient::connect(addr, path).await;
    for chunk in bytes.chunks(piece.max(1)) {
        if !client.try_send_bytes(chunk, ENDS_WITHIN).await {
            break; // closed by the server already, or it stopped reading
        }
        tokio::task::yield_now().await;
    }
    client.outcome(ENDS_WITHIN).await
}

/// A client frame with an explicit first byte (FIN, RSV bits, opcode) and mask.
fn raw_frame(first: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => bytes.push(mask_bit | len as u8),
        len @ 126..=0xffff => {
            bytes.push(mask_bit | 126);
            bytes.extend((len as u16).to_be_bytes());
        }
        len => {
            bytes.push(mask_bit | 127);
            bytes.extend((len as u64).to_be_bytes());
        }
    }
    if let Some(mask) = mask {
        bytes.extend(mask);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        bytes.extend(payload);
    }
    bytes
}

fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend(reason);
    frame(true, OP_CLOSE, &payload)
}

/// Malformed traffic, each with the close code RFC 6455 asks for.
fn malformed() -> Vec<(&'static str, Vec<u8>, u16)> {
    let mut cases = vec![
        (
            "the 22 bytes: reserved opcode 3, masked, empty, then 16 bytes",
            [&[0x83, 0x80, 1, 2, 3, 4][..], &[0x42; 16]].concat(),
            1002,
        ),
        (
            "RSV1 without an extension",
            raw_frame(0xc1, Some([1; 4]), b"hi"),
            1002,
        ),
        ("RSV2", raw_frame(0xa1, Some([1; 4]), b"hi"), 1002),
        ("RSV3", raw_frame(0x91, Some([1; 4]), b"hi"), 1002),
        ("an unmasked frame", raw_frame(0x81, None, b"hi"), 1002),
        (
            "a 64-bit length with its top bit set",
            [&[0x82, 0xff][..], &[0x80, 0, 0, 0, 0, 0, 0, 1], &[0; 4]].concat(),
            1002,
        ),
        (
            "a length over the limit",
            [&[0x82, 0xff][..], &(1u64 << 40).to_be_bytes(), &[0; 4]].concat(),
            1009,
        ),
        (
            "a ping of 126 bytes",
            raw_frame(0x89, Some([0; 4]), &[b'p'; 126]),
            1002,
        ),
        ("a fragmented ping", frame(false, OP_PING, b"p"), 1002),
        (
            "a text frame inside a fragmented message",
            [frame(false, OP_TEXT, b"a"), frame(true, OP_TEXT, b"b")].concat(),
            1002,
        ),
        (
            "a continuation with no message",
            frame(true, OP_CONTINUATION, b"x"),
            1002,
        ),
        (
            "a text frame of invalid UTF-8",
            frame(true, OP_TEXT, b"\xff\xfe"),
            1007,
        ),
        (
            "invalid UTF-8 across fragments",
            [
                frame(false, OP_TEXT, b"\xce"),
                frame(true, OP_CONTINUATION, b"\x41"),
            ]
            .concat(),
            1007,
        ),
        (
            "a close frame of one byte",
            frame(true, OP_CLOSE, &[3]),
            1002,
        ),
        (
            "a close reason of invalid UTF-8",
            close_frame(1000, b"\xff"),
            1007,
        ),
    ];
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        cases.push((
            "a close frame with a code no endpoint may send",
            close_frame(code, b""),
            1002,
        ));
    }
    for opcode in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        cases.push((
            "a reserved opcode",
            raw_frame(0x80 | opcode, Some([9; 4]), b"xyz"),
            1002,
        ));
    }
    cases
}

/// The garbage tests share a shape: the process's CPU, measured once they stop, stays low.
async fn idle_cpu() -> Duration {
    // What the clients sent last may still be in flight: give it the window to settle.
    tokio::time::sleep(IDLE_WINDOW).await;
    let before = cpu_time("/proc/self/stat");
    tokio::time::sleep(IDLE_WINDOW).await;
    cpu_time("/proc/self/stat") - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_opcode_followed_by_bytes_gets_1002_and_costs_no_cpu() {
    let _alone = CPU.lock().await;
    let addr = serve().await;
    let bytes = [&[0x83, 0x80, 1, 2, 3, 4][..], &[0x42; 16]].concat();
    for _ in 0..2 {
        assert_eq!(
            attack(addr, "/echo", &bytes, bytes.len()).await,
            Outcome::Closed(1002)
        );
    }
    let busy = idle_cpu().await;
    assert!(
        busy < IDLE_CPU_BOUND,
        "{busy:?} of CPU in {IDLE_WINDOW:?} after the attack"
    );
    let mut client = Client::connect(addr, "/echo").await;
    assert_eq!(client.ask("still serving").await, "still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_frame_gets_its_close_code_in_pieces_of_every_size() {
    let addr = serve().await;
    let mut well_behaved = Client::connect(addr, "/echo").await;
    for (what, bytes, code) in malformed() {
        for piece in [1, 2, 3, 5, 8, 13, usize::MAX] {
            let outcome = attack(addr, "/echo", &bytes, piece).await;
            assert_eq!(
                outcome,
                Outcome::Closed(code),
                "{what}, in pieces of {piece}"
            );
        }
        assert_eq!(well_behaved.ask(what).await, what);
    }
}

/// A valid conversation: messages of every length form, fragmented, with control frames between.
fn valid_traffic(random: &mut Random) -> Vec<u8> {
    let mut wire = Vec::new();
    wire.extend(frame(true, OP_TEXT, b"hello"));
    wire.extend(frame(false, OP_BINARY, &random.bytes(200)));
    wire.extend(frame(true, OP_PING, b"between"));
    wire.extend(frame(true, OP_CONTINUATION, &random.bytes(70_000 % 60_000)));
    wire.extend(frame(true, OP_BINARY, &random.bytes(3)));
    wire.extend(header(true, OP_TEXT, 4));
    wire.extend(b"done");
    wire
}

/// Seeded random bytes and mutations of valid traffic (bytes flipped, cut short, repeated),
/// each with the piece size to send it in.
fn garbage(random: &mut Random, rounds: usize) -> Vec<(Vec<u8>, usize)> {
    (0..rounds)
        .map(|round| {
            let bytes = if round % 2 == 0 {
                random.some_bytes(4096)
            } else {
                let mut wire = valid_traffic(random);
                for _ in 0..1 + random.below(4) {
                    let at = random.below(wire.len());
                    wire[at] ^= 1 << random.below(8);
                }
                match random.below(3) {
                    0 => wire.truncate(random.below(wire.len())),
                    1 => {
                        let at = random.below(wire.len());
                        let piece = wire[at..].to_vec();
                        wire.extend(piece);
                    }
                    _ => {}
                }
                wire
            };
            (bytes, [1, 7, 64, 1500, usize::MAX][random.below(5)])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_and_mutated_traffic_end_or_idle_and_the_server_goes_on() {
    let _alone = CPU.lock().await;
    let addr = serve().await;
    let mut well_behaved = Client::connect(addr, "/echo").await;
    let mut attackers = tokio::task::JoinSet::new();
    for (round, (bytes, piece)) in garbage(&mut Random(0x9e37_79b9_7f4a_7c15), 200)
        .into_iter()
        .enumerate()
    {
        attackers.spawn(async move {
            let mut client = RawClient::connect(addr, "/echo").await;
            for chunk in bytes.chunks(piece) {
                if !client.try_send_bytes(chunk, ENDS_WITHIN).await {
                    break;
                }
            }
            (round, client.outcome(ENDS_WITHIN).await, client)
        });
    }
    let mut waiting = Vec::new();
    while let Some(attacker) = attackers.join_next().await {
        let (round, outcome, client) = attacker.unwrap();
        match outcome {
            // Waiting for the rest of a frame: it must cost nothing while it waits.
            Outcome::Open => waiting.push(client),
            Outcome::Closed(code) => assert!(
                matches!(code, 1000 | 1002 | 1007 | 1009),
                "round {round}: close code {code}"
            ),
            Outcome::Disconnected => {}
        }
        if attackers.len() % 20 == 0 {
            assert_eq!(well_behaved.ask("still serving").await, "still serving");
        }
    }
    let busy = idle_cpu().await;
    assert!(
        busy < IDLE_CPU_BOUND,
        "{busy:?} of CPU in {IDLE_WINDOW:?} with {} connections left waiting",
        waiting.len()
    );
    assert_eq!(well_behaved.ask("still serving").await, "still serving");
}

#[tokio::test]
async fn a_ping_is_answered_with_its_payload_on_every_kind_of_endpoint() {
    let addr = serve().await;
    for path in ["/echo", "/events"] {
        let mut client = RawClient::connect(addr, path).await;
        client.send_frame(OP_PING, b"are you there").await;
        let pong = loop {
            let frame = client.read_frame().await;
            if frame.opcode != OP_TEXT {
                break frame; // a resumable gateway says `$session` first
            }
        };
        assert_eq!(
            (pong.opcode, &pong.payload[..]),
            (0xa, &b"are you there"[..]),
            "{path}"
        );
    }
}

/// Envelopes a gateway must answer with an error (or take), never stall on.
fn hostile_envelopes(random: &mut Random) -> Vec<String> {
    let mut texts: Vec<String> = [
        "",
        "{",
        "[]",
        "null",
        r#"{"event":1}"#,
        r#"{"event":"echo"}"#,
        r#"{"event":"echo","data":1e999999}"#,
        r#"{"event":"echo","data":"\ud800"}"#,
        r#"{"event":"echo","id":-1,"data":0}"#,
        r#"{"event":"echo","id":1.5,"data":0}"#,
        r#"{"event":"echo","id":18446744073709551616,"data":0}"#,
        r#"{"event":"point","data":{"x":"not a number"}}"#,
        r#"{"event":"field","data":{"a":{"b":[]}}}"#,
        r#"{"event":"field","data":{"a":"b"}}"#,
        r#"{"event":"nowhere","data":0,"id":3}"#,
        r#"{"event":"$ack","data":"x"}"#,
        r#"{"event":"$ack","data":18446744073709551615}"#,
        r#"{"event":"$ack","data":-5}"#,
        r#"{"event":"$resume","data":{"token":"00","seq":0}}"#,
        r#"{"event":"$session","data":0}"#,
        r#"{"event":"join","data":"\u0000"}"#,
    ]
    .map(str::to_owned)
    .to_vec();
    texts.push(format!(
        r#"{{"event":"echo","data":{}}}"#,
        "[".repeat(10_000)
    ));
    texts.push(format!(
        r#"{{"event":"field","data":{}}}"#,
        "{\"a\":".repeat(5_000)
    ));
    texts.push(format!(r#"{{"event":"{}","data":0}}"#, "e".repeat(30_000)));
    for _ in 0..50 {
        let len = random.below(300);
        let alphabet = br#"{}[]",:0123456789.eE+-\ntruefalsnul$eventdataid"#;
        texts.push(
            (0..len)
                .map(|_| char::from(alphabet[random.below(alphabet.len())]))
                .collect(),
        );
    }
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_answers_hostile_envelopes_and_keeps_serving() {
    let _alone = CPU.lock().await;
    let addr = serve().await;
    let mut random = Random(42);
    let mut hostile = Client::connect(addr, "/events").await;
    for text in hostile_envelopes(&mut random) {
        hostile.send_text(&text).await;
    }
    // Every envelope was taken in order: the next request on the same connection is answered.
    let answer: serde_json::Value = hostile.request("echo", &"after").await.unwrap();
    assert_eq!(answer, "after");

    // A frame no client may send, first on a resume: the code RFC 6455 asks for.
    let reserved = raw_frame(0x83, Some([1; 4]), b"xyz");
    assert_eq!(
        attack(addr, "/events?resume", &reserved, 64).await,
        Outcome::Closed(1002)
    );
    // Random bytes as the first message of a resume: refused, and the server goes on.
    for _ in 0..20 {
        let bytes = frame(true, OP_TEXT, &random.some_bytes(2000));
        let outcome = attack(addr, "/events?resume", &bytes, 1 + random.below(64)).await;
        assert!(
            matches!(outcome, Outcome::Closed(1007 | 1008)),
            "a garbage resume got {outcome:?}"
        );
    }
    let busy = idle_cpu().await;
    assert!(busy < IDLE_CPU_BOUND, "{busy:?} of CPU in {IDLE_WINDOW:?}");
    let answer: serde_json::Value = hostile.request("echo", &"still").await.unwrap();
    assert_eq!(answer, "still");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_refuses_garbage_requests_and_keeps_serving() {
    let _alone = CPU.lock().await;
    let addr = serve().await;
    let mut random = Random(7);
    for round in 0..100 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = match round % 3 {
            0 => random.some_bytes(4096),
            1 => {
                let mut head = b"GET /feed HTTP/1.1\r\nHost: x\r\n".to_vec();
                head.extend(random.some_bytes(2000));
                head.extend(b"\r\n\r\n");
                head
            }
            _ => format!(
                "GET /feed?{} HTTP/1.1\r\nHost: x\r\nLast-Event-ID: {}\r\n\r\n",
                "%ff%00&=&".repeat(random.below(200)),
                "\u{7f}".repeat(random.below(100))
            )
            .into_bytes(),
        };
        if stream.write_all(&request).await.is_err() {
            continue;
        }
        let mut answer = Vec::new();
        // Refused requests end; a stream the server accepted stays open, idle.
        let read = tokio::time::timeout(ENDS_WITHIN, stream.read_to_end(&mut answer)).await;
        if read.is_err() {
            assert!(
                answer.starts_with(b"HTTP/1.1 200"),
                "round {round}: neither answered nor ended: {:?}",
                String::from_utf8_lossy(&answer)
            );
        }
    }
    let busy = idle_cpu().await;
    assert!(busy < IDLE_CPU_BOUND, "{busy:?} of CPU in {IDLE_WINDOW:?}");
    // A well-behaved reader is still served (`connect` asserts the 200).
    SseReader::connect(addr, "/feed").await;
}
