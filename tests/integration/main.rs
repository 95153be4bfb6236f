//! Integration tests: the real binary and the real lake on generated and hand-written data.
//! One test binary keeps link time down.

mod bad_files;
mod cli;
mod common;
mod crash;
mod gap;
mod gdpr;
mod gold;
mod hardening;
mod idempotency;
mod landing;
mod lock;
mod maintenance;
mod ml;
mod mysql;
mod publish;
mod s3;
mod sftp;
mod shell;
mod silver_fixtures;
mod status;
mod watch;
mod weather;
