use super::*;
use crate::base::settings::DEFAULT_MESSAGE_TIMEOUT;

/// A masked client frame (mask `[1, 2, 3, 4]`).
pub(crate) fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![u8::from(fin) << 7 | opcode];
    match payload.len() {
        len @ 0..=125 => bytes.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            bytes.push(0x80 | 126);
            bytes.extend((len as u16).to_be_bytes());
        }
        len => {
            bytes.push(0x80 | 127);
            bytes.extend((len as u64).to_be_bytes());
        }
    }
    let mask = [1, 2, 3, 4];
    bytes.extend(mask);
    bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    bytes
}

fn reader(max_frames: u32, budget: usize) -> Reader {
    let limits = InboundLimits::new(max_frames, DEFAULT_MESSAGE_TIMEOUT, budget);
    Reader::new(BytesMut::new(), Arc::new(limits), 1 << 20)
}

/// Feeds `wire` in pieces of `piece` bytes; the messages, or the first error.
fn read_all(reader: &mut Reader, wire: &[u8], piece: usize) -> Result<Vec<Message>, ReadError> {
    let mut messages = Vec::new();
    for chunk in wire.chunks(piece) {
        reader.input.extend_from_slice(chunk);
        while let Some(message) = reader.read()? {
            messages.push(message);
        }
    }
    Ok(messages)
}

#[test]
fn messages_of_every_kind_arrive_whole_in_pieces_of_every_size() {
    let mut wire = frame(true, 1, b"hello");
    wire.extend(frame(false, 2, &[7; 300]));
    wire.extend(frame(true, 9, b"ping"));
    wire.extend(frame(true, 0, &[8; 70_000]));
    wire.extend(frame(false, 1, "κό".as_bytes()));
    wire.extend(frame(true, 0, "σμε".as_bytes()));
    wire.extend(frame(true, 8, b"\x03\xe8bye"));
    let mut binary = vec![7; 300];
    binary.extend([8; 70_000]);
    let expected = vec![
        Message::text("hello"),
        Message::Ping(Bytes::from_static(b"ping")),
        Message::binary(binary),
        Message::text("κόσμε"),
        Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        })),
    ];
    for piece in [1, 2, 3, 7, 14, 100, 4096, usize::MAX] {
        let mut reader = reader(16, 1 << 20);
        assert_eq!(
            read_all(&mut reader, &wire, piece).unwrap(),
            expected,
            "{piece}"
        );
        assert!(!reader.has_input());
        assert_eq!(reader.limits.held(), 0, "released once complete");
    }
}

#[test]
fn an_error_is_final_and_never_asks_for_more() {
    let mut reader = reader(16, 1 << 20);
    reader.input.extend_from_slice(&[0x83, 0x80, 1, 2, 3, 4]);
    reader.input.extend_from_slice(&[0x42; 16]);
    let error = ReadError::Frame(FrameError::Protocol("reserved opcode"));
    assert_eq!(reader.read(), Err(error));
    assert_eq!(reader.read(), Err(error), "the same error again");
}

#[test]
fn text_that_cannot_be_utf8_is_refused_before_its_frame_ends() {
    let mut reader = reader(16, 1 << 20);
    let wire = frame(true, 1, b"hello \xff and much more that has not arrived");
    reader.input.extend_from_slice(&wire[..14]);
    assert_eq!(
        reader.read(),
        Err(ReadError::Frame(FrameError::InvalidUtf8))
    );
}

#[test]
fn fragments_are_held_to_the_message_size_and_frame_count() {
    let mut small = Reader::new(
        BytesMut::new(),
        Arc::new(InboundLimits::new(4, DEFAULT_MESSAGE_TIMEOUT, 1 << 20)),
        100,
    );
    let wire = [frame(false, 2, &[0; 60]), frame(true, 0, &[0; 60])].concat();
    assert_eq!(
        read_all(&mut small, &wire, usize::MAX),
        Err(FrameError::TooBig.into())
    );
    let mut reader = reader(4, 1 << 20);
    let mut wire = frame(false, 1, b"");
    for _ in 0..4 {
        wire.extend(frame(false, 0, b""));
    }
    assert_eq!(
        read_all(&mut reader, &wire, usize::MAX),
        Err(InboundLimit::TooManyFrames.into())
    );
}

#[test]
fn incomplete_messages_share_one_budget_and_give_it_back() {
    let limits = Arc::new(InboundLimits::new(16, DEFAULT_MESSAGE_TIMEOUT, 1000));
    let new = || Reader::new(BytesMut::new(), Arc::clone(&limits), 1 << 20);
    let (mut first, mut second) = (new(), new());
    let wire = frame(true, 2, &[0; 5000]);
    assert_eq!(read_all(&mut first, &wire[..600], usize::MAX), Ok(vec![]));
    assert_eq!(
        read_all(&mut second, &wire[..600], usize::MAX),
        Err(InboundLimit::OverBudget.into())
    );
    assert_eq!(
        read_all(&mut first, &wire[600..], usize::MAX)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(limits.held(), 0, "released when complete");
    let mut third = new();
    read_all(&mut third, &wire[..600], usize::MAX).unwrap();
    drop(third);
    assert_eq!(limits.held(), 0, "released when dropped");
}

#[test]
fn whole_messages_reserve_nothing() {
    let mut reader = reader(16, 10);
    let messages = read_all(&mut reader, &frame(true, 2, &[0; 5000]), usize::MAX);
    assert_eq!(messages.unwrap().len(), 1);
}

#[test]
fn after_a_failure_the_client_s_frames_are_skipped_unread_until_its_close() {
    // Invalid UTF-8 in a whole message: the frames after it are found, and the client's
    // Close.
    let mut refused = reader(16, 1 << 20);
    let wire = [
        frame(true, 1, b"\xff"),
        frame(true, 1, b"late"),
        frame(true, 8, b""),
    ];
    assert!(read_all(&mut refused, &wire.concat(), usize::MAX).is_err());
    assert_eq!(refused.drain(), Drained::ClientClosed);

    // A Close with a bad code is the client's Close all the same: it sends nothing more.
    let mut refused = reader(16, 1 << 20);
    assert!(read_all(&mut refused, &frame(true, 8, &[0x03, 0xe7]), usize::MAX).is_err());
    assert_eq!(refused.drain(), Drained::ClientClosed);

    // Over the budget in the middle of a frame: the rest of its payload is skipped, as it
    // arrives.
    let mut refused = reader(16, 1000);
    let big = frame(true, 2, &[0; 5000]);
    assert!(read_all(&mut refused, &big[..2000], usize::MAX).is_err());
    assert_eq!(refused.drain(), Drained::More);
    refused.input.extend_from_slice(&big[2000..]);
    assert_eq!(refused.drain(), Drained::More);
    refused
        .input
        .extend_from_slice(&frame(true, 8, b"\x03\xe8"));
    assert_eq!(refused.drain(), Drained::ClientClosed);

    // A header that cannot be parsed: no frame can be found after it.
    let mut refused = reader(16, 1 << 20);
    let wire = [&[0x83, 0x80, 1, 2, 3, 4][..], &frame(true, 8, b"")].concat();
    assert!(read_all(&mut refused, &wire, usize::MAX).is_err());
    assert_eq!(refused.drain(), Drained::Garbage);
}

#[test]
fn the_fuzz_entry_point_holds_for_any_piece_size() {
    let mut wire = frame(false, 1, &[b'a'; 300]);
    wire.extend(frame(true, 9, b"ping!"));
    wire.extend(frame(true, 0, &[b'b'; 70_000]));
    wire.extend(frame(false, 2, &[0; 100_000])); // left incomplete
    for piece in [1u8, 3, 14, 200, 255] {
        let mut data = vec![piece];
        data.extend(&wire);
        crate::__fuzz::frames(&data);
    }
}
