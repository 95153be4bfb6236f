//! The wall clock used for scheduling decisions (idle detection, nightly scans, retention
//! cut-offs). Tests and replays of historical feeds move it: `DATACYCLE_NOW` (RFC 3339) fixes it
//! for a process, and `watch` in simulated time sets it as its own clock advances.

use std::sync::RwLock;

use chrono::{DateTime, Utc};

/// The time `watch`'s simulated clock shows; `None`: the real clock (or `DATACYCLE_NOW`).
static SIMULATED: RwLock<Option<DateTime<Utc>>> = RwLock::new(None);

pub fn now() -> DateTime<Utc> {
    if let Some(simulated) = *SIMULATED.read().expect("clock lock") {
        return simulated;
    }
    std::env::var("DATACYCLE_NOW")
        .ok()
        .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
}

/// Make [`now`] return `time` from here on (a simulated clock moving).
pub fn set_simulated(time: DateTime<Utc>) {
    *SIMULATED.write().expect("clock lock") = Some(time);
}
