//! Calendar days, for links and rules that apply only in a date range.
//!
//! cartwise never reads the clock: a request that should see dated links
//! carries its date ([`Request::on`](crate::Request::on)), so the same
//! request always gives the same answer.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A calendar day as the number of days since 1970-01-01 (proleptic
/// Gregorian), parsed from and shown as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct Day(pub i32);

impl Day {
    /// The day of a date; `None` for an impossible date or a year outside 1..=9999.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
        if !(1..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
        {
            return None;
        }
        // Howard Hinnant's days_from_civil.
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = month as i32;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Day(era * 146_097 + doe - 719_468))
    }

    /// `(year, month, day)` of this day.
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl FromStr for Day {
    type Err = Error;

    /// Parses `YYYY-MM-DD`; a longer timestamp (`2024-05-01T10:00:00`) is
    /// read by its first ten characters.
    fn from_str(s: &str) -> Result<Day, Error> {
        let bad = || Error::InvalidConfig {
            field: "date",
            value: format!("{s:?}"),
            hint: "expected YYYY-MM-DD",
        };
        let head = s.get(..10).ok_or_else(bad)?;
        let b = head.as_bytes();
        if b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = head.get(r)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        let (y, m, d) = (
            num(0..4).ok_or_else(bad)?,
            num(5..7).ok_or_else(bad)?,
            num(8..10).ok_or_else(bad)?,
        );
        Day::from_ymd(y as i32, m, d).ok_or_else(bad)
    }
}

impl TryFrom<String> for Day {
    type Error = Error;
    fn try_from(s: String) -> Result<Day, Error> {
        s.parse()
    }
}

impl From<Day> for String {
    fn from(d: Day) -> String {
        d.to_string()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_days() {
        assert_eq!(Day::from_ymd(1970, 1, 1), Some(Day(0)));
        assert_eq!(Day::from_ymd(2000, 3, 1), Some(Day(11_017)));
        assert_eq!(
            "2024-02-29".parse::<Day>().unwrap().to_string(),
            "2024-02-29"
        );
        assert!("2023-02-29".parse::<Day>().is_err());
        assert!("2023-13-01".parse::<Day>().is_err());
        assert!("20x3-01-01".parse::<Day>().is_err());
        assert!("2023-1-1".parse::<Day>().is_err());
        assert!("".parse::<Day>().is_err());
        assert_eq!(
            "2016-10-30T09:58:11".parse::<Day>().unwrap().to_string(),
            "2016-10-30"
        );
    }

    proptest! {
        #[test]
        fn round_trip(n in -700_000i32..2_900_000) {
            let d = Day(n);
            let (y, m, dd) = d.ymd();
            if (1..=9999).contains(&y) {
                prop_assert_eq!(Day::from_ymd(y, m, dd), Some(d));
                prop_assert_eq!(d.to_string().parse::<Day>().unwrap(), d);
            }
        }
    }
}
