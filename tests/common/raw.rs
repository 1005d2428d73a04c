//! A WebSocket client with nothing automatic: it never answers pings and can send frames a real
//! client would refuse to send. Enough of RFC 6455 for tests.

use gateway::test::WAIT;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub(crate) struct RawClient {
    stream: BufReader<TcpStream>,
}

/// A frame as the server sent it.
#[derive(Debug)]
pub(crate) struct Frame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

pub(crate) const OP_CONTINUATION: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;

impl Frame {
    /// Code and reason of a Close frame.
    pub(crate) fn close(&self) -> (u16, String) {
        assert_eq!(self.opcode, OP_CLOSE, "not a Close frame: {self:?}");
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        (code, String::from_utf8(self.payload[2..].to_vec()).unwrap())
    }
}

/// A masked client frame (its mask is zero, so `payload` goes on the wire as it is). A frame
/// with `fin` false is one piece of a longer message.
pub(crate) fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = header(fin, opcode, payload.len());
    frame.extend_from_slice(payload);
    frame
}

/// The header of a masked client frame whose payload is `len` bytes (see [`frame`]).
pub(crate) fn header(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
    use tokio_tungstenite::tungstenite::protocol::frame::{coding::OpCode, FrameHeader};
    let header = FrameHeader {
        is_final: fin,
        opcode: OpCode::from(opcode),
        mask: Some([0; 4]),
        ..FrameHeader::default()
    };
    let mut bytes = Vec::new();
    header.format(len as u64, &mut bytes).unwrap();
    bytes
}

/// An HTTP upgrade request for `path` with this `Sec-WebSocket-Key` and `extra` header lines
/// (each ending in `\r\n`).
pub(crate) fn upgrade_request(addr: SocketAddr, path: &str, key: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A TCP connection whose kernel receive buffer is small (4 KiB), so the server's writes to
/// it block after a few KiB when it does not read.
pub(crate) async fn connect_small(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr).await.unwrap()
}

impl RawClient {
    pub(crate) async fn connect(addr: SocketAddr, path: &str) -> RawClient {
        Self::connect_with(addr, path, "").await
    }

    /// A client whose handshake has these `extra` header lines (each ending in `\r\n`).
    pub(crate) async fn connect_with(addr: SocketAddr, path: &str, extra: &str) -> RawClient {
        Self::upgrade(TcpStream::connect(addr).await.unwrap(), addr, path, extra).await
    }

    /// A client on [`connect_small`]'s connection.
    pub(crate) async fn connect_small(addr: SocketAddr, path: &str) -> RawClient {
        Self::upgrade(connect_small(addr).await, addr, path, "").await
    }

    async fn upgrade(stream: TcpStream, addr: SocketAddr, path: &str, extra: &str) -> RawClient {
        let mut stream = BufReader::new(stream);
        let request = upgrade_request(addr, path, "dGhlIHNhbXBsZSBub25jZQ==", extra);
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut status = String::new();
        stream.read_line(&mut status).await.unwrap();
        assert!(
            status.starts_with("HTTP/1.1 101"),
            "upgrade refused: {status}"
        );
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
        }
        RawClient { stream }
    }

    /// Sends one masked frame with FIN set.
    pub(crate) async fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        self.send_bytes(&frame(true, opcode, payload)).await;
    }

    /// Sends bytes as they are (frames made with [`frame`] and [`header`], or pieces of them).
    pub(crate) async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.unwrap();
    }

    /// Sends `bytes` unless the server stops taking them for `stall`: `false` then.
    pub(crate) async fn try_send_bytes(
        &mut self,
        bytes: &[u8],
        stall: std::time::Duration,
    ) -> bool {
        let write = self.stream.get_mut().write_all(bytes);
        matches!(tokio::time::timeout(stall, write).await, Ok(Ok(())))
    }

    /// The next frame from the server (server frames are never masked).
    ///
    /// # Panics
    /// When none arrives within [`WAIT`].
    pub(crate) async fn read_frame(&mut self) -> Frame {
        tokio::time::timeout(WAIT, self.read_frame_now())
            .await
            .expect("no frame from the server")
    }

    async fn read_frame_now(&mut self) -> Frame {
        self.try_read_frame()
            .await
            .expect("the connection ended before a frame")
    }
}

/// How a connection stood once a client stopped sending.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server sent a Close frame with this code.
    Closed(u16),
    /// The TCP connection ended without a Close frame.
    Disconnected,
    /// Still open, nothing more arrived.
    Open,
}

impl RawClient {
    /// Reads until the server closes (a Close frame or the end of the TCP connection), or until
    /// `within` passes; data frames on the way are skipped.
    pub(crate) async fn outcome(&mut self, within: std::time::Duration) -> Outcome {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.try_read_frame()).await {
                Err(_) => return Outcome::Open,
                Ok(None) => return Outcome::Disconnected,
                Ok(Some(frame)) if frame.opcode == OP_CLOSE => {
                    return Outcome::Closed(frame.close().0);
                }
                Ok(Some(_)) => {}
            }
        }
    }

    /// The next frame, or `None` when the connection ended first.
    async fn try_read_frame(&mut self) -> Option<Frame> {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).await.ok()?;
        let len = match head[1] & 0x7f {
            126 => usize::from(self.stream.read_u16().await.ok()?),
            127 => usize::try_from(self.stream.read_u64().await.ok()?).ok()?,
            len => usize::from(len),
        };
        let mut payload = vec![0; len];
        self.stream.read_exact(&mut payload).await.ok()?;
        Some(Frame {
            opcode: head[0] & 0x0f,
            payload,
        })
    }

    /// Whether the server has ended the TCP connection (reads hit end of stream).
    pub(crate) async fn is_disconnected(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte).await, Ok(0) | Err(_))
    }
}
