//! A flood and what is left of it: 1,000 clients of a resumable gateway read everything and
//! never acknowledge while each is sent 1 MiB of its own (the app's kept-bytes budget, 256 MiB,
//! bounds what their sessions keep), then all close. Prints the process's RSS before, at the
//! peak, and 15 s after they left.

use gateway::prelude::*;
use gateway::test::{start, Client};
use std::time::Duration;

#[path = "../../../tests/common/procfs.rs"]
#[allow(dead_code)] // the CPU time reader is the harness's
mod procfs;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENTS: usize = 1_000;
const ROUNDS: usize = 64;
const SIZE: usize = 16 << 10;

struct Room;

#[gateway("room", resume = "1m")]
impl Room {
    #[on_connect]
    async fn joined(&self, conn: Connection) {
        conn.join("room");
    }
}

/// Resident memory in MiB.
fn rss_mib() -> usize {
    procfs::rss_bytes("/proc/self/status") >> 20
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let app = App::new().max_connections(5_000).gateway(Room);
    let hub = app.hub();
    let addr = start(app).await;
    let before = rss_mib();
    let (read, mut reads) = tokio::sync::mpsc::unbounded_channel();
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let mut client = Client::connect(addr, "/room").await;
        client.session().await;
        let read = read.clone();
        readers.spawn(async move {
            for _ in 0..ROUNDS {
                client.next_data().await;
                read.send(()).ok();
            }
            client
        });
    }
    let mut peak = 0;
    for round in 0..ROUNDS {
        for id in hub.room("room").members() {
            let _ = hub.send_to(id, vec![round as u8; SIZE]);
        }
        for _ in 0..CLIENTS {
            reads.recv().await.expect("a reader");
        }
        peak = peak.max(rss_mib());
    }
    for client in readers.join_all().await {
        client.close().await;
    }
    tokio::time::sleep(Duration::from_secs(15)).await;
    println!(
        "RSS before {before} MiB, peak {peak} MiB, 15 s after the clients left {} MiB",
        rss_mib()
    );
}
