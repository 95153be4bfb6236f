//! What orchestrates the other layers over time: the health of the lake (`status`); the
//! scheduler and maintenance follow (issue 20).

pub mod status;
