//! Times in records: RFC 3339 text, as vizier writes it ([`super::now`]), read back for durations.

/// Seconds from `start` to `end`, when both read and are in order (a clock that ran backwards
/// shows no time rather than a negative one).
pub fn elapsed(start: Option<&str>, end: Option<&str>) -> Option<f64> {
    let (start, end) = (parse_rfc3339(start?)?, parse_rfc3339(end?)?);
    (end >= start).then_some(end - start)
}

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        frac = format!("0.{}", &r[..digits]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let t = rest.get(1..)?;
            if t.len() != 5 || t.as_bytes()[2] != b':' {
                return None;
            }
            let (h, m): (i64, i64) = (t[..2].parse().ok()?, t[3..].parse().ok()?);
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from 1970-01-01 of a proleptic Gregorian date.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(secs as f64 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_read_and_bad_ones_do_not() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800.0));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00+02:00"),
            Some(1_709_200_800.0)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T10:00:00.250Z"),
            Some(1_709_200_800.25)
        );
        for bad in [
            "",
            "2024-02-29",
            "2024-13-01T00:00:00Z",
            "2024-02-29T10:00:00",
            "2024-02-29T10:00:00.Z",
            "２０２４-02-29T10:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            elapsed(
                Some("2026-01-02T03:04:06Z"),
                Some("2026-01-02T03:04:09.25Z")
            ),
            Some(3.25)
        );
        assert_eq!(
            elapsed(Some("2026-01-02T03:04:10Z"), Some("2026-01-02T03:04:04Z")),
            None,
            "a clock that ran backwards shows no time"
        );
        assert_eq!(elapsed(None, Some("2026-01-02T03:04:04Z")), None);
    }
}
