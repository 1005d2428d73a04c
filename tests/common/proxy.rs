//! A TCP proxy between test clients and the server that fails like a network does: it can cut
//! every connection through it at once (no Close frame, bytes in flight lost) or stall them.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub(crate) struct Proxy {
    addr: SocketAddr,
    /// Bumped by `cut`: every connection open then ends.
    cuts: watch::Sender<u64>,
    /// While `true` nothing is forwarded (the connections stay open).
    stalled: watch::Sender<bool>,
}

impl Proxy {
    /// Forwards every connection made to [`addr`](Self::addr) to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cuts = watch::Sender::new(0);
        let stalled = watch::Sender::new(false);
        let (cut_signal, stall_signal) = (cuts.subscribe(), stalled.subscribe());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(upstream).await.unwrap();
                let mut cut = cut_signal.clone();
                cut.mark_unchanged();
                let (stall_up, stall_down) = (stall_signal.clone(), stall_signal.clone());
                tokio::spawn(async move {
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        _ = cut.changed() => {}
                        () = forward(client_read, server_write, stall_up) => {}
                        () = forward(server_read, client_write, stall_down) => {}
                    }
                    // Dropping both halves of both sockets: each side sees its peer vanish.
                });
            }
        });
        Proxy {
            addr,
            cuts,
            stalled,
        }
    }

    /// Where clients connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ends every connection open now, as a network failure does: no Close frame, and whatever
    /// the proxy had read but not yet written is lost.
    pub(crate) fn cut(&self) {
        self.cuts.send_modify(|cuts| *cuts += 1);
    }

    /// Stops (`true`) or restarts forwarding; connections stay open meanwhile.
    pub(crate) fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }
}

/// Copies `from` to `to` until either ends, holding each chunk while the proxy is stalled.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buffer = vec![0; 16 << 10];
    loop {
        let Ok(read) = from.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        if stalled.wait_for(|stalled| !*stalled).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
