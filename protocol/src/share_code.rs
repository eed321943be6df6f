//! The 10-digit share code an end user reads to a supporter over the phone.
//!
//! Codes come from a cryptographically secure RNG (10^10 equally likely values), are entered with
//! or without grouping (`123 456 7890`, `123-456-7890`, `1234567890`), display grouped, and compare
//! in constant time so that comparing a guess against a live code leaks nothing through timing.

use std::fmt;
use std::str::FromStr;

use rand::{CryptoRng, Rng};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

/// Number of digits in a share code.
pub const DIGITS: usize = 10;

/// Longest user input [`ShareCode::parse`] looks at; anything longer is refused unread.
pub const MAX_INPUT_LEN: usize = 32;

/// A share code: exactly ten ASCII digits.
///
/// `PartialEq` is constant-time. The type deliberately has no `Ord` and no `Hash`: the relay looks
/// codes up by a keyed hash, never by ordering or hashing the raw digits in memory.
#[derive(Clone, Copy)]
pub struct ShareCode([u8; DIGITS]);

/// Why user input is not a share code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareCodeError {
    /// More than [`MAX_INPUT_LEN`] characters.
    #[error("input is longer than {MAX_INPUT_LEN} characters")]
    TooLong,
    /// A character other than a digit, a space or a dash.
    #[error("unexpected character {0:?}; a share code has digits only")]
    BadCharacter(char),
    /// Not exactly ten digits.
    #[error("a share code has {DIGITS} digits, got {0}")]
    WrongLength(usize),
}

impl ShareCode {
    /// Draws a code uniformly from all 10^10 values (leading zeros included).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut n: u64 = rng.random_range(0..10_000_000_000);
        let mut digits = [b'0'; DIGITS];
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        ShareCode(digits)
    }

    /// Parses what a person typed: ten digits, optionally grouped by spaces or dashes.
    pub fn parse(input: &str) -> Result<Self, ShareCodeError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(ShareCodeError::TooLong);
        }
        let mut digits = [0u8; DIGITS];
        let mut n = 0;
        for c in input.chars() {
            match c {
                '0'..='9' => {
                    if n < DIGITS {
                        digits[n] = c as u8;
                    }
                    n += 1;
                }
                ' ' | '-' | '\u{a0}' | '\t' => {}
                other => return Err(ShareCodeError::BadCharacter(other)),
            }
        }
        if n != DIGITS {
            return Err(ShareCodeError::WrongLength(n));
        }
        Ok(ShareCode(digits))
    }

    /// The ten digits without grouping, as sent on the wire.
    pub fn as_str(&self) -> &str {
        // The array only ever holds ASCII digits (both constructors guarantee it).
        std::str::from_utf8(&self.0).expect("share code digits are ASCII")
    }

    /// The code grouped for reading aloud: `123 456 7890`.
    pub fn grouped(&self) -> String {
        let s = self.as_str();
        format!("{} {} {}", &s[..3], &s[3..6], &s[6..])
    }
}

impl PartialEq for ShareCode {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for ShareCode {}

impl fmt::Display for ShareCode {
    /// Displays the grouped form, `123 456 7890`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.grouped())
    }
}

impl fmt::Debug for ShareCode {
    /// Redacts all but the last two digits, so codes do not end up whole in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShareCode(********{})", &self.as_str()[8..])
    }
}

impl FromStr for ShareCode {
    type Err = ShareCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ShareCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ShareCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ShareCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_grouped_and_plain_input() {
        for input in [
            "123 456 7890",
            "123-456-7890",
            "1234567890",
            " 12 34 56 78 90 ",
        ] {
            assert_eq!(
                ShareCode::parse(input).unwrap().as_str(),
                "1234567890",
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(
            ShareCode::parse("123456789"),
            Err(ShareCodeError::WrongLength(9))
        );
        assert_eq!(
            ShareCode::parse("12345678901"),
            Err(ShareCodeError::WrongLength(11))
        );
        assert_eq!(
            ShareCode::parse("12345a7890"),
            Err(ShareCodeError::BadCharacter('a'))
        );
        assert_eq!(
            ShareCode::parse("١٢٣٤٥٦٧٨٩٠"),
            Err(ShareCodeError::BadCharacter('١'))
        );
        assert_eq!(
            ShareCode::parse(&"1".repeat(40)),
            Err(ShareCodeError::TooLong)
        );
        assert_eq!(ShareCode::parse(""), Err(ShareCodeError::WrongLength(0)));
    }

    #[test]
    fn displays_grouped_and_redacts_debug() {
        let c = ShareCode::parse("0012345678").unwrap();
        assert_eq!(c.to_string(), "001 234 5678");
        assert_eq!(format!("{c:?}"), "ShareCode(********78)");
    }

    #[test]
    fn generated_codes_are_ten_digits_and_spread_over_leading_digits() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut first = [0u32; 10];
        for _ in 0..10_000 {
            let c = ShareCode::generate(&mut rng);
            assert_eq!(c.as_str().len(), DIGITS);
            assert!(c.as_str().bytes().all(|b| b.is_ascii_digit()));
            first[(c.as_str().as_bytes()[0] - b'0') as usize] += 1;
        }
        // Each leading digit, zero included, should appear ~1000 times.
        assert!(first.iter().all(|&n| (850..1150).contains(&n)), "{first:?}");
    }

    #[test]
    fn equality_compares_all_digits() {
        let a = ShareCode::parse("1234567890").unwrap();
        assert_eq!(a, ShareCode::parse("123 456 7890").unwrap());
        assert_ne!(a, ShareCode::parse("1234567891").unwrap());
        assert_ne!(a, ShareCode::parse("0234567890").unwrap());
    }

    #[test]
    fn serde_uses_plain_digits_and_accepts_grouped() {
        let c = ShareCode::parse("1234567890").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"1234567890\"");
        let back: ShareCode = serde_json::from_str("\"123-456-7890\"").unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<ShareCode>("\"12\"").is_err());
    }
}
