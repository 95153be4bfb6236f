//! What orchestrates the other layers over time: the scheduler of `watch` (its windows, its
//! clock, its loop) and the health of the lake (`status`).

pub mod clock;
pub mod status;
pub mod watch;
pub mod windows;
