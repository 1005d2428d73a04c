//! UTF-8 checked as a text message arrives, piece by piece, so a message that cannot be text
//! is refused at its first wrong byte rather than after its last (RFC 6455 §8.1 "fail fast").

/// The state between pieces: the start of a character the last piece ended inside.
#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    carry: [u8; 4],
    carry_len: usize,
}

/// Bytes that are not UTF-8 whatever follows them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotUtf8;

impl Utf8Stream {
    /// Checks the next piece of the text.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), NotUtf8> {
        if self.carry_len > 0 {
            // Complete the character the last piece ended inside, one byte at a time (at most
            // three), then go on with what follows it.
            while let Some((&byte, rest)) = bytes.split_first() {
                self.carry[self.carry_len] = byte;
                self.carry_len += 1;
                bytes = rest;
                match std::str::from_utf8(&self.carry[..self.carry_len]) {
                    Ok(_) => {
                        self.carry_len = 0;
                        break;
                    }
                    Err(error) if error.error_len().is_none() => {}
                    Err(_) => return Err(NotUtf8),
                }
            }
            if self.carry_len > 0 {
                return Ok(());
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            // Ends inside a character that is correct so far: keep its start for the next piece.
            Err(error) if error.error_len().is_none() => {
                let start = &bytes[error.valid_up_to()..];
                self.carry[..start.len()].copy_from_slice(start);
                self.carry_len = start.len();
                Ok(())
            }
            Err(_) => Err(NotUtf8),
        }
    }

    /// The text ended: it must not end inside a character.
    pub(crate) fn finish(&self) -> Result<(), NotUtf8> {
        if self.carry_len == 0 {
            Ok(())
        } else {
            Err(NotUtf8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdict for `text` fed in pieces of `piece` bytes: `Ok` only if whole and valid.
    fn check(text: &[u8], piece: usize) -> Result<(), NotUtf8> {
        let mut stream = Utf8Stream::default();
        for chunk in text.chunks(piece) {
            stream.feed(chunk)?;
        }
        stream.finish()
    }

    #[test]
    fn agrees_with_the_standard_library_for_every_piece_size() {
        let samples: [&[u8]; 9] = [
            "κόσμε".as_bytes(),
            "a€b𝄞c".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"\xe2\x82",
            b"plain ascii",
            b"\xf0\x9f\x98\x80\xf0\x9f",
            b"",
        ];
        for text in samples {
            let expected = std::str::from_utf8(text).is_ok();
            for piece in 1..=text.len().max(1) {
                assert_eq!(check(text, piece).is_ok(), expected, "{text:?} in {piece}s");
            }
        }
    }

    #[test]
    fn a_wrong_byte_is_refused_before_the_text_ends() {
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.feed(b"hello \xce"), Ok(()));
        assert_eq!(stream.feed(b"\x41"), Err(NotUtf8));
    }
}
