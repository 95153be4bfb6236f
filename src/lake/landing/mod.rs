//! The landing zone's layout: where each source's raw files are kept and the queue they are
//! handed to bronze in. Sources write these paths, bronze reads them.

pub mod sensors;
pub mod weather;
