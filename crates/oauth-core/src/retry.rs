//! `Retry-After` (RFC 9110 §10.2.3): how long a server asked a client to wait before trying
//! again, after a `429 Too Many Requests` or a `503 Service Unavailable`.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{DATE, RETRY_AFTER};

/// The longest wait [`parse_retry_after`] returns: a server asking for more is asking for an
/// hour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait a response's `Retry-After` asks for, capped at [`MAX_RETRY_AFTER`].
///
/// The value is delay-seconds, or an HTTP-date in any of the three formats RFC 9110 §5.6.7 has a
/// recipient accept, counted from the response's own `Date` when it has one (so that a skewed
/// local clock does not matter), else from `now`, the local clock the caller passes in. A date
/// in the past means no wait; a value that is neither is ignored (`None`).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderMap;
/// use oauth_core::retry::parse_retry_after;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "120".parse()?);
/// assert_eq!(parse_retry_after(&headers, SystemTime::now()), Some(Duration::from_secs(120)));
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name| headers.get(name)?.to_str().ok().map(str::trim);
    let value = text(RETRY_AFTER)?;
    // delay-seconds = 1*DIGIT: no sign; too many digits is the cap.
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let now = text(DATE)
        .and_then(|date| httpdate::parse_http_date(date).ok())
        .unwrap_or(now);
    Some(
        at.duration_since(now)
            .unwrap_or_default()
            .min(MAX_RETRY_AFTER),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|&(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    http::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let secs = |pairs: &[(&'static str, &'static str)]| {
            parse_retry_after(
                &headers(pairs),
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            )
            .map(|d| d.as_secs())
        };
        assert_eq!(secs(&[("retry-after", "120")]), Some(120));
        assert_eq!(secs(&[("retry-after", " 7 ")]), Some(7));
        assert_eq!(secs(&[("retry-after", "99999999")]), Some(3600));
        assert_eq!(
            secs(&[("retry-after", "99999999999999999999999999")]),
            Some(3600)
        );
        // Not delay-seconds: a sign (u64's parser takes `+5`).
        assert_eq!(secs(&[("retry-after", "+5")]), None);
        // An HTTP-date, counted from the response's Date (RFC 9110's example dates), in each
        // of the three formats a recipient must accept (§5.6.7).
        let date = ("date", "Fri, 31 Dec 1999 23:59:00 GMT");
        for at in [
            "Fri, 31 Dec 1999 23:59:59 GMT",
            "Friday, 31-Dec-99 23:59:59 GMT",
            "Fri Dec 31 23:59:59 1999",
        ] {
            assert_eq!(secs(&[("retry-after", at), date]), Some(59), "{at}");
        }
        assert_eq!(
            secs(&[("retry-after", "Sat, 01 Jan 2000 23:59:00 GMT"), date]),
            Some(3600)
        );
        // In the past: no wait. Without a Date: from the given local clock (2023 here).
        assert_eq!(
            secs(&[("retry-after", "Fri, 31 Dec 1999 23:00:00 GMT"), date]),
            Some(0)
        );
        assert_eq!(
            secs(&[("retry-after", "Fri, 31 Dec 1999 23:59:59 GMT")]),
            Some(0)
        );
        // A Date that does not parse falls back to the local clock.
        assert_eq!(
            secs(&[
                ("retry-after", "Fri, 31 Dec 1999 23:59:59 GMT"),
                ("date", "yesterday")
            ]),
            Some(0)
        );
        for junk in ["soon", "-5", "1.5", ""] {
            assert_eq!(secs(&[("retry-after", junk)]), None, "{junk}");
        }
        assert_eq!(secs(&[]), None);
    }
}
