//! Process exit codes (README): every error type maps itself to one of these, exhaustively, so a
//! new variant cannot slip through as a plain failure unnoticed.

/// Success.
pub const OK: i32 = 0;
/// An error.
pub const FAILURE: i32 = 1;
/// Usage or configuration (clap uses 2 for usage errors too).
pub const CONFIG: i32 = 2;
/// Some steps failed on their own while the others were done (`rebuild` with a source down).
pub const PARTIAL: i32 = 3;
/// The lake is locked by another writer (EX_TEMPFAIL: try again later).
pub const LOCKED: i32 = 75;
