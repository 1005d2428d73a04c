//! WebSocket frames (RFC 6455 §5.2): the header of a client's frame parsed and checked, the
//! header of a server's frame written, and the masking of a client's payload. The only place
//! frame headers are read or written: the connection's reader and writer and the senders'
//! direct writes all come here.

use thiserror::Error;

/// The longest payload of a control frame (RFC 6455 §5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xa => Self::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xa,
        }
    }

    /// Close, Ping and Pong: never fragmented, never part of a message.
    pub(crate) fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A client's frame header, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The last frame of its message.
    pub(crate) fin: bool,
    pub(crate) opcode: OpCode,
    pub(crate) mask: [u8; 4],
    /// Payload bytes that follow the header.
    pub(crate) len: usize,
}

/// A frame no client may send. Each is final: the connection is failed with
/// [`close_code`](Self::close_code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum FrameError {
    /// A broken rule of RFC 6455: close 1002.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// Text that is not UTF-8 (a text message, a close reason): close 1007.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A frame or message longer than the endpoint's `max_message`: close 1009.
    #[error("message too big")]
    TooBig,
}

impl FrameError {
    /// The close code RFC 6455 asks for, and the reason sent with it.
    pub(crate) fn close(self) -> (u16, &'static str) {
        use crate::base::close::close_code;
        match self {
            Self::Protocol(_) => (close_code::PROTOCOL_ERROR, "protocol error"),
            Self::InvalidUtf8 => (close_code::INVALID_PAYLOAD, "invalid UTF-8"),
            Self::TooBig => (close_code::MESSAGE_TOO_BIG, "message too big"),
        }
    }
}

/// Parses the header of a client's frame at the start of `bytes`: the header and its length,
/// or `None` when `bytes` ends inside a header that is correct so far. Every check that the
/// bytes present allow is made before asking for more, so a wrong header is refused from its
/// first wrong byte, and a frame longer than `max_payload` before its payload arrives.
pub(crate) fn parse_client_header(
    bytes: &[u8],
    max_payload: usize,
) -> Result<Option<(Header, usize)>, FrameError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        // No extension is negotiated, so no reserved bit may be set.
        return Err(FrameError::Protocol("reserved bit set"));
    }
    let opcode = OpCode::from_bits(first & 0x0f).ok_or(FrameError::Protocol("reserved opcode"))?;
    let fin = first & 0x80 != 0;
    if opcode.is_control() && !fin {
        return Err(FrameError::Protocol("fragmented control frame"));
    }
    let Some(&second) = bytes.get(1) else {
        return Ok(None);
    };
    if second & 0x80 == 0 {
        return Err(FrameError::Protocol("unmasked client frame"));
    }
    let short = second & 0x7f;
    if opcode.is_control() && usize::from(short) > MAX_CONTROL_PAYLOAD {
        return Err(FrameError::Protocol("control frame over 125 bytes"));
    }
    let extended = match short {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    if extended == 8 && bytes.get(2).is_some_and(|byte| byte & 0x80 != 0) {
        return Err(FrameError::Protocol("64-bit length with its top bit set"));
    }
    let Some(length_bytes) = bytes.get(2..2 + extended) else {
        return Ok(None);
    };
    let len = match extended {
        0 => u64::from(short),
        _ => length_bytes
            .iter()
            .fold(0u64, |len, &byte| (len << 8) | u64::from(byte)),
    };
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= max_payload)
        .ok_or(FrameError::TooBig)?;
    let header_len = 2 + extended + 4;
    let Some(mask) = bytes.get(2 + extended..header_len) else {
        return Ok(None);
    };
    let header = Header {
        fin,
        opcode,
        mask: [mask[0], mask[1], mask[2], mask[3]],
        len,
    };
    Ok(Some((header, header_len)))
}

/// The header of an unmasked, final server frame carrying `len` payload bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerHeader {
    bytes: [u8; 10],
    len: u8,
}

impl ServerHeader {
    /// No header: for bytes that are a whole frame already.
    pub(crate) const NONE: Self = Self {
        bytes: [0; 10],
        len: 0,
    };

    pub(crate) fn new(opcode: OpCode, len: usize) -> Self {
        let mut bytes = [0; 10];
        bytes[0] = 0x80 | opcode.bits();
        let header_len = if len < 126 {
            bytes[1] = len as u8;
            2
        } else if let Ok(len) = u16::try_from(len) {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
            4
        } else {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        };
        Self {
            bytes,
            len: header_len,
        }
    }
}

impl std::ops::Deref for ServerHeader {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Unmasks (or masks: the same XOR) `bytes`, which start `offset` bytes into their frame's
/// payload.
pub(crate) fn unmask(bytes: &mut [u8], mask: [u8; 4], offset: usize) {
    let mask = {
        let mut rotated = mask;
        rotated.rotate_left(offset % 4);
        rotated
    };
    // Eight bytes at a time, then the rest one by one.
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = bytes.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
        ]) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (byte, key) in chunks.into_remainder().iter_mut().zip(mask.iter().cycle()) {
        *byte ^= key;
    }
}

/// Checks a client's Close payload: empty, or a code an endpoint may send followed by UTF-8.
pub(crate) fn check_close_payload(payload: &[u8]) -> Result<Option<(u16, &str)>, FrameError> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::Protocol("close payload of one byte")),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !is_receivable_close_code(code) {
                return Err(FrameError::Protocol("close code no endpoint may send"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| FrameError::InvalidUtf8)?;
            Ok(Some((code, reason)))
        }
    }
}

/// Codes a Close frame may carry (RFC 6455 §7.4): the defined ones an endpoint may send, and
/// those registered or private (3000–4999).
fn is_receivable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame header for `len` bytes, in its shortest form.
    fn client_header(first: u8, len: u64) -> Vec<u8> {
        let mut bytes = vec![first];
        match len {
            0..=125 => bytes.push(0x80 | len as u8),
            126..=0xffff => {
                bytes.push(0x80 | 126);
                bytes.extend((len as u16).to_be_bytes());
            }
            _ => {
                bytes.push(0x80 | 127);
                bytes.extend(len.to_be_bytes());
            }
        }
        bytes.extend([1, 2, 3, 4]);
        bytes
    }

    #[test]
    fn headers_of_every_length_form_parse_and_a_prefix_asks_for_more() {
        for len in [0, 125, 126, 65_535, 65_536, 1 << 20] {
            let bytes = client_header(0x82, len);
            for cut in 0..bytes.len() {
                assert_eq!(parse_client_header(&bytes[..cut], 1 << 20), Ok(None));
            }
            let (header, header_len) = parse_client_header(&bytes, 1 << 20).unwrap().unwrap();
            assert_eq!(header_len, bytes.len());
            assert_eq!(header.len as u64, len);
            assert_eq!(header.mask, [1, 2, 3, 4]);
            assert!(header.fin);
            assert_eq!(header.opcode, OpCode::Binary);
        }
    }

    #[test]
    fn a_wrong_header_is_refused_from_its_first_wrong_byte() {
        let refused = |bytes: &[u8]| parse_client_header(bytes, 1 << 20).unwrap_err();
        assert_eq!(refused(&[0x83]), FrameError::Protocol("reserved opcode"));
        assert_eq!(refused(&[0xc1]), FrameError::Protocol("reserved bit set"));
        assert_eq!(
            refused(&[0x09]),
            FrameError::Protocol("fragmented control frame")
        );
        assert_eq!(
            refused(&[0x81, 0x05]),
            FrameError::Protocol("unmasked client frame")
        );
        assert_eq!(
            refused(&[0x89, 0x80 | 126]),
            FrameError::Protocol("control frame over 125 bytes")
        );
        assert_eq!(
            refused(&[0x82, 0xff, 0x80]),
            FrameError::Protocol("64-bit length with its top bit set")
        );
        assert_eq!(
            parse_client_header(&[0x82, 0xfe, 0x03, 0xe9], 1000),
            Err(FrameError::TooBig),
            "refused before its mask arrives"
        );
        assert_eq!(
            parse_client_header(&client_header(0x82, 65_536), 65_535),
            Err(FrameError::TooBig)
        );
    }

    #[test]
    fn server_headers_take_the_shortest_length_form() {
        assert_eq!(&*ServerHeader::new(OpCode::Text, 2), [0x81, 2]);
        assert_eq!(&*ServerHeader::new(OpCode::Binary, 125), [0x82, 125]);
        assert_eq!(
            &*ServerHeader::new(OpCode::Binary, 126),
            [0x82, 126, 0, 126]
        );
        assert_eq!(
            &*ServerHeader::new(OpCode::Binary, 65_536),
            [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
        assert_eq!(&*ServerHeader::new(OpCode::Close, 0), [0x88, 0]);
    }

    #[test]
    fn unmasking_in_pieces_at_any_offset_matches_unmasking_at_once() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let original: Vec<u8> = (0..=255).collect();
        let mut whole = original.clone();
        unmask(&mut whole, mask, 0);
        for split in 0..40 {
            let mut pieces = original.clone();
            let (head, tail) = pieces.split_at_mut(split);
            unmask(head, mask, 0);
            unmask(tail, mask, split);
            assert_eq!(pieces, whole, "split at {split}");
        }
        unmask(&mut whole, mask, 0);
        assert_eq!(whole, original, "masking twice gives the bytes back");
    }

    #[test]
    fn close_payloads_are_checked() {
        assert_eq!(check_close_payload(&[]), Ok(None));
        assert_eq!(check_close_payload(b"\x03\xe8bye"), Ok(Some((1000, "bye"))));
        assert!(check_close_payload(&[3]).is_err());
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            assert!(check_close_payload(&code.to_be_bytes()).is_err(), "{code}");
        }
        assert_eq!(
            check_close_payload(b"\x03\xe8\xff"),
            Err(FrameError::InvalidUtf8)
        );
    }
}
