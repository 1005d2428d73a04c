//! Duration strings in attributes: `"500ms"`, `"5s"`, `"1m30s"`, `"2h"`.

/// The help every duration error carries.
pub(crate) const EXPECTED: &str =
    "expected a duration like \"5s\", \"500ms\" or \"1m30s\" (units: ms, s, m, h)";

/// Parses a duration into milliseconds. `None` when the text is not a positive duration.
pub(crate) fn parse_millis(text: &str) -> Option<u64> {
    let mut rest = text.trim();
    let mut total: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let amount: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_millis, unit_len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else {
            return None;
        };
        rest = &rest[unit_len..];
        total = total.checked_add(amount.checked_mul(unit_millis)?)?;
    }
    (total > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::parse_millis;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_millis("500ms"), Some(500));
        assert_eq!(parse_millis("5s"), Some(5_000));
        assert_eq!(parse_millis("1m30s"), Some(90_000));
        assert_eq!(parse_millis("2h"), Some(7_200_000));
        assert_eq!(parse_millis("1h1m1s1ms"), Some(3_661_001));
    }

    #[test]
    fn rejects_anything_else() {
        for text in [
            "",
            "5",
            "5x",
            "s",
            "0s",
            "1.5s",
            "-1s",
            "5 s",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_millis(text), None, "{text:?}");
        }
    }
}
