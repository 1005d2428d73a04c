//! Size strings in attributes: `"65536"`, `"64KiB"`, `"1MiB"`, `"16MB"`.

/// The help every size error carries.
pub(crate) const EXPECTED: &str =
    "expected a size like \"64KiB\", \"1MiB\" or \"65536\" (units: B, KB, KiB, MB, MiB, GB, GiB)";

/// Parses a size into bytes. `None` when the text is not a positive size.
pub(crate) fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let amount: u64 = text[..digits].parse().ok()?;
    let unit: u64 = match &text[digits..] {
        "" | "B" => 1,
        "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    amount.checked_mul(unit).filter(|&bytes| bytes > 0)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn parses_units() {
        assert_eq!(parse_bytes("65536"), Some(65_536));
        assert_eq!(parse_bytes("64KiB"), Some(65_536));
        assert_eq!(parse_bytes("16MiB"), Some(16 << 20));
        assert_eq!(parse_bytes("2KB"), Some(2_000));
    }

    #[test]
    fn rejects_anything_else() {
        for text in [
            "",
            "KiB",
            "0",
            "1.5MiB",
            "64kib",
            "12 KiB",
            "99999999999999GiB",
        ] {
            assert_eq!(parse_bytes(text), None, "{text:?}");
        }
    }
}
