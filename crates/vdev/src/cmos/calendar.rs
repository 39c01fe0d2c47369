//! Unix time to and from the proleptic Gregorian calendar (UTC), for the RTC.

/// Seconds in a day.
const DAY: u64 = 86_400;
/// The last second the RTC shows: 9999-12-31 23:59:59.
pub(super) const MAX_UNIX: u64 = 253_402_300_799;

/// A calendar date and time of day.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct DateTime {
    /// Full year, 1970 to 9999.
    pub year: u64,
    /// 1 to 12.
    pub month: u64,
    /// Day of the month, 1 to 31.
    pub day: u64,
    /// Day of the week, 1 (Sunday) to 7 (Saturday), as the RTC counts them.
    pub weekday: u64,
    /// 0 to 23.
    pub hour: u64,
    /// 0 to 59.
    pub minute: u64,
    /// 0 to 59.
    pub second: u64,
}

/// Whether `year` has a 29 February.
fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// Days in `month` (1-12) of `year`.
pub(super) fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Leap years from year 1 to `year`, inclusive.
fn leaps_through(year: u64) -> u64 {
    year / 4 - year / 100 + year / 400
}

/// Days from 1970-01-01 to 1 January of `year` (1970 or later).
fn days_before_year(year: u64) -> u64 {
    365 * (year - 1970) + leaps_through(year - 1) - leaps_through(1969)
}

/// The calendar time of `unix` seconds (capped at [`MAX_UNIX`]).
pub(super) fn from_unix(unix: u64) -> DateTime {
    let unix = unix.min(MAX_UNIX);
    let days = unix / DAY;
    let seconds = unix % DAY;
    // 1970 + days / 365 is never below the year; step down to it.
    let mut year = 1970 + days / 365;
    while days_before_year(year) > days {
        year -= 1;
    }
    let mut day_of_year = days - days_before_year(year);
    let mut month = 1;
    while day_of_year >= days_in_month(year, month) {
        day_of_year -= days_in_month(year, month);
        month += 1;
    }
    DateTime {
        year,
        month,
        day: day_of_year + 1,
        // 1970-01-01 was a Thursday, day 5.
        weekday: (days + 4) % 7 + 1,
        hour: seconds / 3600,
        minute: seconds / 60 % 60,
        second: seconds % 60,
    }
}

/// The unix time of a calendar time, if it is a valid one from 1970 to 9999 (the
/// day of the week is not checked).
pub(super) fn to_unix(time: &DateTime) -> Option<u64> {
    let valid = (1970..=9999).contains(&time.year)
        && (1..=12).contains(&time.month)
        && (1..=days_in_month(time.year, time.month)).contains(&time.day)
        && time.hour < 24
        && time.minute < 60
        && time.second < 60;
    if !valid {
        return None;
    }
    let days_before_month: u64 = (1..time.month)
        .map(|month| days_in_month(time.year, month))
        .sum();
    let days = days_before_year(time.year) + days_before_month + time.day - 1;
    Some(days * DAY + time.hour * 3600 + time.minute * 60 + time.second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(date: (u64, u64, u64), weekday: u64, time: (u64, u64, u64)) -> DateTime {
        DateTime {
            year: date.0,
            month: date.1,
            day: date.2,
            weekday,
            hour: time.0,
            minute: time.1,
            second: time.2,
        }
    }

    #[test]
    fn known_dates() {
        // Worked out independently; weekday 1 is Sunday.
        for (unix, want) in [
            (0, dt((1970, 1, 1), 5, (0, 0, 0))),
            (1_700_000_000, dt((2023, 11, 14), 3, (22, 13, 20))),
            (1_700_007_200, dt((2023, 11, 15), 4, (0, 13, 20))),
            (951_782_400, dt((2000, 2, 29), 3, (0, 0, 0))),
            (951_868_799, dt((2000, 2, 29), 3, (23, 59, 59))),
            (1_677_628_799, dt((2023, 2, 28), 3, (23, 59, 59))),
            (1_709_164_800, dt((2024, 2, 29), 5, (0, 0, 0))),
            (4_102_444_799, dt((2099, 12, 31), 5, (23, 59, 59))),
            (4_102_444_800, dt((2100, 1, 1), 6, (0, 0, 0))),
            (MAX_UNIX, dt((9999, 12, 31), 6, (23, 59, 59))),
        ] {
            assert_eq!(from_unix(unix), want, "{unix}");
            assert_eq!(to_unix(&want), Some(unix), "{unix}");
        }
        assert_eq!(from_unix(u64::MAX), from_unix(MAX_UNIX));
    }

    #[test]
    fn round_trips() {
        let mut unix = 0;
        while unix < MAX_UNIX {
            assert_eq!(to_unix(&from_unix(unix)), Some(unix));
            unix += 86_399 * 37 + 12_345;
        }
    }

    #[test]
    fn invalid_times() {
        let good = dt((2023, 2, 28), 1, (1, 2, 3));
        assert!(to_unix(&good).is_some());
        for bad in [
            DateTime { day: 29, ..good },
            DateTime { day: 0, ..good },
            DateTime { month: 0, ..good },
            DateTime { month: 13, ..good },
            DateTime { year: 1969, ..good },
            DateTime {
                year: 10_000,
                ..good
            },
            DateTime { hour: 24, ..good },
            DateTime { minute: 60, ..good },
            DateTime { second: 60, ..good },
        ] {
            assert_eq!(to_unix(&bad), None, "{bad:?}");
        }
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
    }
}
