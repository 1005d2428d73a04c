//! The floor: the least a server can spend to deliver one small message to each of many
//! sockets on this machine. One write system call per socket and nothing else: no queue, no
//! task per client, no wake-up. The harness runs it as a server of its own (this binary again,
//! with `HARNESS_FLOOR` set), pinned like the others, and drives it with the same fan-out
//! clients, so each server's CPU per delivery can be read as a multiple of it.
//!
//! It speaks just enough WebSocket for those clients: the handshake, and client frames read
//! without any checks. Every text message any client sends is written, as one frame, to every
//! client, the sender included (what `/broadcast` does).

use std::io;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Set in the floor server's environment.
pub(crate) const ENV: &str = "HARNESS_FLOOR";

/// Every client's socket, written to directly.
type Clients = Arc<Mutex<Vec<OwnedWriteHalf>>>;

/// Runs the floor server on `PORT` (0: a free one) on one thread until it is killed.
pub(crate) fn serve() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let port: u16 = std::env::var("PORT").map_or(0, |port| port.parse().unwrap());
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        println!("listening on ws://{}", listener.local_addr().unwrap());
        let clients = Clients::default();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(client(stream, Arc::clone(&clients)));
        }
    });
}

/// One client: its handshake, then what it publishes.
async fn client(stream: TcpStream, clients: Clients) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let accept = derive_accept_key(websocket_key(&mut read).await?.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    write.write_all(response.as_bytes()).await?;
    clients.lock().await.push(write);
    while let Some(text) = next_text(&mut read).await? {
        let frame = text_frame(&text);
        for client in clients.lock().await.iter_mut() {
            // One `send` each while the client keeps up (only a back-to-back burst can fill a
            // socket; then this waits for it).
            client.write_all(&frame).await.ok();
        }
    }
    Ok(())
}

/// The `Sec-WebSocket-Key` of the upgrade request.
async fn websocket_key(read: &mut BufReader<OwnedReadHalf>) -> io::Result<String> {
    let mut key = None;
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            return key.ok_or_else(|| io::Error::other("no Sec-WebSocket-Key"));
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("sec-websocket-key") {
                key = Some(value.trim().to_owned());
            }
        }
    }
}

/// The payload of the client's next text frame (other frames are skipped); `None` at a Close.
async fn next_text(read: &mut BufReader<OwnedReadHalf>) -> io::Result<Option<Vec<u8>>> {
    loop {
        let [first, second] = [read.read_u8().await?, read.read_u8().await?];
        let length = match second & 0x7f {
            126 => u64::from(read.read_u16().await?),
            127 => read.read_u64().await?,
            length => u64::from(length),
        };
        let mut mask = [0; 4];
        read.read_exact(&mut mask).await?;
        let mut payload = vec![0; length as usize];
        read.read_exact(&mut payload).await?;
        for (index, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[index % 4];
        }
        match first & 0x0f {
            0x1 => return Ok(Some(payload)),
            0x8 => return Ok(None),
            _ => {}
        }
    }
}

/// An unmasked text frame (the server's side) carrying `payload`.
fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    match u16::try_from(payload.len()) {
        Ok(length) if length < 126 => frame.push(length as u8),
        Ok(length) => {
            frame.push(126);
            frame.extend_from_slice(&length.to_be_bytes());
        }
        Err(_) => {
            frame.push(127);
            frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}
