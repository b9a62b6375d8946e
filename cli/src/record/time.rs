//! Times on the command line and in answers: RFC 3339 date-times with any
//! offset (`2026-03-03T14:02:00Z`, `2026-03-03T16:02:00.250+02:00`) and UNIX
//! seconds with a fraction (`1772546520.25`), to UNIX milliseconds; what is
//! not a real time (`nan`, `inf`, `1e9`, `2026-02-31T…`, `…T99:99:99Z`, a
//! negative time, a leap second UNIX time cannot count) is refused with the
//! reason. Answers print UTC, `YYYY-MM-DDTHH:MM:SS.mmmZ`.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A UNIX time in milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (Howard
/// Hinnant's `civil_from_days`).
pub(crate) fn utc(ms: u64) -> String {
    let (days, rest) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let s = rest / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        rest % 1000
    )
}

/// Digits only, as a number.
fn digits(text: &str) -> Option<i64> {
    (!text.is_empty() && text.len() <= 12 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A fraction of a second (the digits after the point) in milliseconds,
/// truncated.
fn millis(frac: &str) -> Option<i64> {
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    format!("{frac:0<3}")[..3].parse().ok()
}

/// A time given on the command line, in UNIX milliseconds; the error says why
/// it is not a real time.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    let why = |what: &str| {
        format!(
            "{text:?} is not a real time ({what}): give RFC 3339 (2026-03-03T14:02:00Z, \
             2026-03-03T16:02:00.250+02:00) or UNIX seconds (1772546520.25)"
        )
    };
    if !text.contains(['-', ':', 'T', 't']) {
        let (secs, frac) = text.split_once('.').unwrap_or((text, "0"));
        let secs = digits(secs).ok_or_else(|| why("not a number of seconds"))?;
        let ms = millis(frac).ok_or_else(|| why("not a fraction"))?;
        return Ok((secs * 1000 + ms) as u64);
    }
    let (date, rest) = text
        .split_once(['T', 't', ' '])
        .ok_or_else(|| why("no 'T' between date and time"))?;
    let d: Vec<&str> = date.split('-').collect();
    let [y, m, day] = d[..] else {
        return Err(why("the date is not YYYY-MM-DD"));
    };
    let (y, m, day) = match (digits(y), digits(m), digits(day)) {
        (Some(y), Some(m), Some(d)) if y.to_string().len() <= 4 && y >= 1970 => (y, m, d),
        _ => return Err(why("the date is not YYYY-MM-DD from 1970 on")),
    };
    if !(1..=12).contains(&m) || day < 1 || day > days_in_month(y, m) {
        return Err(why("no such day"));
    }
    // The offset: Z, or +HH:MM / -HH:MM.
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = rest
            .rfind(['+', '-'])
            .ok_or_else(|| why("no offset: end with Z or +HH:MM"))?;
        let (c, o) = rest.split_at(at);
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let hm: Vec<&str> = o[1..].split(':').collect();
        let (Some(oh), Some(om)) = (
            hm.first().and_then(|h| digits(h)),
            hm.get(1).and_then(|m| digits(m)),
        ) else {
            return Err(why("the offset is not ±HH:MM"));
        };
        if hm.len() != 2 || oh > 23 || om > 59 {
            return Err(why("the offset is not ±HH:MM"));
        }
        (c, sign * (oh * 60 + om))
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let c: Vec<Option<i64>> = hms.split(':').map(digits).collect();
    let [Some(h), Some(mi), Some(s)] = c[..] else {
        return Err(why("the time of day is not HH:MM:SS"));
    };
    if h > 23 || mi > 59 || s > 59 {
        return Err(why("no such time of day (UNIX time has no leap second)"));
    }
    let ms = millis(frac).ok_or_else(|| why("not a fraction of a second"))?;
    let secs = days_from_civil(y, m, day) * 86_400 + h * 3600 + mi * 60 + s - offset * 60;
    u64::try_from(secs * 1000 + ms).map_err(|_| why("before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_times_parse_to_unix_milliseconds() {
        assert_eq!(parse("2026-03-03T14:02:00Z"), Ok(1_772_546_520_000));
        assert_eq!(
            parse("2026-03-03T16:02:00.250+02:00"),
            Ok(1_772_546_520_250)
        );
        assert_eq!(parse("2026-03-03T09:32:00-04:30"), Ok(1_772_546_520_000));
        assert_eq!(parse("2026-03-03t14:02:00z"), Ok(1_772_546_520_000));
        assert_eq!(parse("1970-01-01T00:00:01.5Z"), Ok(1500));
        assert_eq!(parse("1700000000.25"), Ok(1_700_000_000_250));
        assert_eq!(parse("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
        assert_eq!(utc(1_772_546_520_123), "2026-03-03T14:02:00.123Z");
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn what_is_not_a_real_time_is_refused_with_the_reason() {
        for bad in [
            "nan",
            "inf",
            "-inf",
            "1e9",
            "-5",
            "yesterday",
            "",
            "1700000000.",
            "2026-02-31T14:02:00Z",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-03-03T99:99:99Z",
            "2026-03-03T23:59:60Z",
            "2026-03-03T14:02:00",
            "2026-03-03T14:02:00+25:00",
            "1969-12-31T23:59:59Z",
            "2026-03-03",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse("2026-02-31T14:02:00Z").unwrap_err(),
            "\"2026-02-31T14:02:00Z\" is not a real time (no such day): give RFC 3339 \
             (2026-03-03T14:02:00Z, 2026-03-03T16:02:00.250+02:00) or UNIX seconds (1772546520.25)"
        );
    }
}
