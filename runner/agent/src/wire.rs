//! How an endpoint name and a failure's cause travel over HTTP between agents.
//!
//! A caller always sends the endpoint's exact name in `x-chaos-endpoint`; the method and path
//! are derived from the name (`"GET /checkout"` → `GET /checkout`, `"query"` → `POST /query`)
//! so that logs, `curl` and `wrk` read naturally. A failed answer names its cause in
//! `x-chaos-cause` so the caller can count it by cause. A request's priority (issue 14)
//! travels in `x-chaos-priority`, absent for 0 so requests without priorities are unchanged.
//! Every answer says in `x-chaos-served-us` how long the replica held the request (from the
//! moment its handler saw it to the answer), so the caller can tell its own wait apart from
//! the network hop around it (`hop` in the model; see [`hop_s`]).

use chaos_plan::MAX_PRIORITY;
use chaos_report::Cause;
use http::HeaderMap;

pub const ENDPOINT_HEADER: &str = "x-chaos-endpoint";
pub const CAUSE_HEADER: &str = "x-chaos-cause";
pub const PRIORITY_HEADER: &str = "x-chaos-priority";
pub const SERVED_HEADER: &str = "x-chaos-served-us";

/// The header value for a replica that held a request for `served`, in whole microseconds.
pub fn served_value(served: std::time::Duration) -> http::HeaderValue {
    let us = u64::try_from(served.as_micros()).unwrap_or(u64::MAX);
    http::HeaderValue::from(us)
}

/// What one hop cost the caller, in seconds: the time it waited for the answer (`waited`)
/// less the time the replica says it held the request (its [`SERVED_HEADER`]). `None` when
/// the answer does not say (not an agent); never negative (the two clocks round differently).
pub fn hop_s(waited: std::time::Duration, served: Option<&http::HeaderValue>) -> Option<f64> {
    let served_us: u64 = served?.to_str().ok()?.trim().parse().ok()?;
    Some((waited.as_secs_f64() - served_us as f64 / 1e6).max(0.0))
}

/// A request's priority: its header, clamped to [`MAX_PRIORITY`]; 0 when absent or unreadable
/// (a request from curl is the lowest class).
pub fn priority_of(headers: &HeaderMap) -> u8 {
    headers
        .get(PRIORITY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u8>().ok())
        .map_or(0, |p| p.min(MAX_PRIORITY))
}

/// The header value a priority is sent as; `None` for 0 (the header is left out).
pub fn priority_value(priority: u8) -> Option<http::HeaderValue> {
    (priority > 0).then(|| http::HeaderValue::from(u16::from(priority.min(MAX_PRIORITY))))
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Method and path (percent-encoded) an endpoint name is sent as.
pub fn method_and_path(name: &str) -> (String, String) {
    if let Some((m, p)) = name.split_once(' ')
        && METHODS.contains(&m)
        && p.starts_with('/')
        && !p.contains(' ')
    {
        return (m.to_string(), p.to_string());
    }
    ("POST".to_string(), format!("/{}", encode(name)))
}

/// The names a request may mean when it carries no `x-chaos-endpoint` (curl, wrk).
pub fn candidates(method: &str, raw_path: &str) -> [String; 2] {
    let path = decode(raw_path);
    [
        format!("{method} {path}"),
        path.trim_start_matches('/').to_string(),
    ]
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn cause_from_name(name: &str) -> Option<Cause> {
    Cause::ALL.into_iter().find(|c| c.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_like_names_keep_their_method_and_path() {
        assert_eq!(
            method_and_path("GET /checkout"),
            ("GET".into(), "/checkout".into())
        );
        assert_eq!(method_and_path("query"), ("POST".into(), "/query".into()));
        assert_eq!(
            method_and_path("do it now"),
            ("POST".into(), "/do%20it%20now".into())
        );
    }

    #[test]
    fn candidates_round_trip() {
        for name in ["GET /checkout", "query", "do it now", "POST /charge"] {
            let (m, p) = method_and_path(name);
            assert!(candidates(&m, &p).contains(&name.to_string()), "{name}");
        }
    }

    #[test]
    fn priorities_round_trip_and_clamp() {
        let mut h = HeaderMap::new();
        assert_eq!(priority_of(&h), 0);
        for p in 1..=MAX_PRIORITY {
            h.insert(PRIORITY_HEADER, priority_value(p).unwrap());
            assert_eq!(priority_of(&h), p);
        }
        assert!(priority_value(0).is_none());
        h.insert(PRIORITY_HEADER, http::HeaderValue::from_static("200"));
        assert_eq!(priority_of(&h), MAX_PRIORITY);
        h.insert(PRIORITY_HEADER, http::HeaderValue::from_static("high"));
        assert_eq!(priority_of(&h), 0);
    }

    #[test]
    fn a_hop_is_the_wait_less_the_time_served() {
        use std::time::Duration;
        assert_eq!(hop_s(Duration::from_millis(3), None), None);
        let served = served_value(Duration::from_micros(2_750));
        let hop = hop_s(Duration::from_millis(3), Some(&served)).unwrap();
        assert!((hop - 250e-6).abs() < 1e-9, "{hop}");
        // A replica that rounds up past the caller's own measure costs nothing, not less.
        assert_eq!(
            hop_s(Duration::from_micros(2_700), Some(&served)),
            Some(0.0)
        );
        let garbled = http::HeaderValue::from_static("soon");
        assert_eq!(hop_s(Duration::from_millis(3), Some(&garbled)), None);
    }

    #[test]
    fn causes_by_name() {
        for c in Cause::ALL {
            assert_eq!(cause_from_name(c.name()), Some(c));
        }
        assert_eq!(cause_from_name("nope"), None);
    }
}
