//! The clock: the only place the server reads the time, so tests can move it.

use std::sync::Mutex;
use time::OffsetDateTime;

/// Formats a time as RFC 3339, whole seconds (every JSON answer and webhook body).
pub fn rfc3339(at: OffsetDateTime) -> String {
    whole_seconds(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Parses an RFC 3339 time given by a client, in UTC (fractions kept: a query filter compares
/// in milliseconds; what is stored truncates to seconds itself); `None` when it is not one, or
/// when its instant in UTC falls outside the years 1–9999 (`9999-12-31T23:59:59-01:00` is a valid
/// RFC 3339 text whose instant no store column, HTTP date or formatter can hold).
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    let at = OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .ok()?
        .checked_to_offset(time::UtcOffset::UTC)?;
    (1..=9999).contains(&at.year()).then_some(at)
}

/// `at` with whole seconds (what tokens and stored expiries hold).
pub fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that tests move by hand; it starts at the system time.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl Default for ManualClock {
    fn default() -> Self {
        Self(Mutex::new(OffsetDateTime::now_utc()))
    }
}

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_times_are_read_in_utc_and_refused_outside_the_years_1_to_9999() {
        let at = parse_rfc3339("2030-01-02T03:04:05.678+02:00");
        assert_eq!(at.map(|a| a.millisecond()), Some(678), "fractions are kept");
        assert_eq!(at.map(rfc3339).as_deref(), Some("2030-01-02T01:04:05Z"));
        assert_eq!(
            parse_rfc3339("9999-12-31T22:59:59-01:00")
                .map(rfc3339)
                .as_deref(),
            Some("9999-12-31T23:59:59Z")
        );
        for outside in [
            "9999-12-31T23:59:59-01:00",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:30:00+01:00",
            "not a time",
            "",
        ] {
            assert_eq!(parse_rfc3339(outside), None, "{outside}");
        }
    }
}
