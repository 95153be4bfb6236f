//! What every step shares: logging with secret masking, progress bars, run reports, the clock
//! and small JSON state documents in the lake's `_ops` area.

pub mod clock;
pub mod exit;
pub mod files;
pub mod fingerprint;
pub mod logging;
pub mod parallel;
pub mod progress;
pub mod report;
pub mod secrets;
