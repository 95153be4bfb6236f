//! The wall clock used for scheduling decisions (idle detection, nightly scans). Tests and
//! replays of historical feeds set `DATACYCLE_NOW` (RFC 3339) to move it.

use chrono::{DateTime, Utc};

pub fn now() -> DateTime<Utc> {
    std::env::var("DATACYCLE_NOW")
        .ok()
        .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
}
