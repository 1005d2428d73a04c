//! What the lifecycle costs per message: the same echo endpoint with no components, and with one
//! interceptor (whose `pre` and `post` do nothing), measured in one run.
//!
//! `cargo bench --bench dispatch`
//!
//! The server runs on its own thread (a current-thread runtime); its CPU time per message is read
//! from `/proc/self/task/<tid>/stat`, so the client's work is not counted. The two apps are
//! measured alternately, and the median of the rounds is printed.

#[allow(dead_code)] // only the CPU half is used here
#[path = "../tests/common/procfs.rs"]
mod procfs;

use futures_util::{SinkExt, StreamExt};
use gateway::lifecycle::Interceptor;
use gateway::prelude::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const MESSAGES: usize = 200_000;
const ROUNDS: usize = 5;

struct Echo;

#[controller("")]
impl Echo {
    #[websocket("echo")]
    async fn echo(&self, #[body] message: Bytes) -> Bytes {
        message
    }
}

struct Noop;
impl Interceptor for Noop {}

/// This thread's id, as `/proc` names it.
fn thread_id() -> String {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("Linux /proc");
    stat.split_whitespace().next().unwrap().to_owned()
}

/// CPU time (user + system) a thread has used.
fn thread_cpu(tid: &str) -> Duration {
    procfs::cpu_time(&format!("/proc/self/task/{tid}/stat"))
}

fn start_servers() -> (String, SocketAddr, SocketAddr) {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let intercepted = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            sender
                .send((
                    thread_id(),
                    plain.local_addr().unwrap(),
                    intercepted.local_addr().unwrap(),
                ))
                .unwrap();
            let with_interceptor = App::new().interceptor(Noop).controller(Echo);
            tokio::join!(
                gateway::serve_on(plain, App::new().controller(Echo)),
                gateway::serve_on(intercepted, with_interceptor),
            )
        })
    });
    receiver.recv().unwrap()
}

/// Pipelines `MESSAGES` 32-byte messages (as many in flight as the socket buffers hold) and
/// returns the server's CPU time per message.
async fn measure(server_tid: &str, addr: SocketAddr) -> Duration {
    let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/echo"))
        .await
        .unwrap();
    let (mut sink, mut stream) = socket.split();
    let payload = vec![b'x'; 32];
    let cpu_before = thread_cpu(server_tid);
    let sender = async {
        for _ in 0..MESSAGES {
            sink.feed(WsMessage::binary(payload.clone())).await.unwrap();
        }
        sink.flush().await.unwrap();
        sink
    };
    let receiver = async {
        for _ in 0..MESSAGES {
            stream.next().await.unwrap().unwrap();
        }
    };
    let (mut sink, ()) = tokio::join!(sender, receiver);
    let cpu = thread_cpu(server_tid) - cpu_before;
    sink.close().await.ok();
    cpu / MESSAGES as u32
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let (server_tid, plain, intercepted) = start_servers();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for _ in 0..ROUNDS {
        without.push(runtime.block_on(measure(&server_tid, plain)));
        with.push(runtime.block_on(measure(&server_tid, intercepted)));
    }
    let (without, with) = (median(without), median(with));
    println!("server CPU per 32-byte echo, median of {ROUNDS} rounds of {MESSAGES} messages:");
    println!(
        "  no components     {:>8.2} µs",
        without.as_secs_f64() * 1e6
    );
    println!("  one interceptor   {:>8.2} µs", with.as_secs_f64() * 1e6);
    println!(
        "  difference        {:>8.2} µs ({:+.1}%)",
        (with.as_secs_f64() - without.as_secs_f64()) * 1e6,
        (with.as_secs_f64() / without.as_secs_f64() - 1.0) * 100.0
    );
    println!("  ({:.1} s in all)", started.elapsed().as_secs_f64());
}
