//! An sFTP folder read with libssh2 (blocking; callers run it off the async runtime).
//!
//! Host keys are checked against an OpenSSH known_hosts file: an unknown key is refused unless
//! `accept_new_host` records it, a changed key is always refused. Lost connections and failed
//! files are retried with exponential backoff, waiting no longer than the run's retry budget in
//! all; a refused login or host key is not retried.

use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use ssh2::{CheckResult, HashType, KnownHostFileKind, Session, Sftp};

use super::remote::{Listing, RemoteError, RemoteFile, RemoteFolder};
use crate::config::SftpTarget;

/// A blocking libssh2 call that makes no progress for this long fails (and is retried).
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Read size: large reads let libssh2 keep many requests in flight.
const READ_CHUNK: usize = 1 << 20;

/// A connected (or reconnecting) sFTP folder.
pub struct SftpFolder {
    target: SftpTarget,
    connection: Option<(Session, Sftp)>,
    /// Attempts used by the current operation.
    retries: u32,
    /// Time spent waiting for retries in this run.
    waited: Duration,
}

impl SftpFolder {
    pub fn new(target: SftpTarget) -> Self {
        Self {
            target,
            connection: None,
            retries: 0,
            waited: Duration::ZERO,
        }
    }

    /// Run `op` on the connection, reconnecting and retrying transient failures.
    fn with_retries<T>(
        &mut self,
        what: &str,
        mut op: impl FnMut(&Sftp) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        self.retries = 0;
        loop {
            let attempt = self.connected().and_then(&mut op);
            match attempt {
                Ok(value) => return Ok(value),
                Err(e) if !e.is_transient() || self.retries >= self.target.max_retries => {
                    return Err(e);
                }
                Err(e) => {
                    let budget = self.target.retry_budget.saturating_sub(self.waited);
                    if budget.is_zero() {
                        return Err(RemoteError::transient(format!(
                            "{e} (gave up: the retry budget of {} s of this run is used up; \
                             SOURCE_RETRY_BUDGET_SECS)",
                            self.target.retry_budget.as_secs()
                        )));
                    }
                    self.connection = None;
                    self.retries += 1;
                    let delay = self
                        .target
                        .retry_delay
                        .saturating_mul(1 << (self.retries - 1).min(16))
                        .min(budget);
                    self.waited += delay;
                    tracing::warn!(
                        "{what} failed ({e}); retry {}/{} in {} s",
                        self.retries,
                        self.target.max_retries,
                        delay.as_secs_f64()
                    );
                    std::thread::sleep(delay);
                }
            }
        }
    }

    fn connected(&mut self) -> Result<&Sftp, RemoteError> {
        if self.connection.is_none() {
            self.connection = Some(connect(&self.target)?);
        }
        Ok(&self.connection.as_ref().expect("connected above").1)
    }
}

impl RemoteFolder for SftpFolder {
    fn describe(&self) -> String {
        format!(
            "sftp://{}{}",
            self.target.display_address(),
            self.target.path
        )
    }

    fn list(&mut self) -> Result<Listing, RemoteError> {
        let folder = self.target.path.clone();
        self.with_retries("listing the sFTP folder", |sftp| {
            let entries = sftp
                .readdir(Path::new(&folder))
                .map_err(|e| RemoteError::transient(format!("listing {folder}: {e}")))?;
            let mut listing = Listing::default();
            for (path, stat) in entries.into_iter().filter(|(_, stat)| stat.is_file()) {
                let Some(name) = path.file_name() else {
                    continue;
                };
                match name.to_str() {
                    Some(name) => listing.files.push(RemoteFile {
                        name: name.to_string(),
                        size: stat.size.unwrap_or(0),
                        modified: stat.mtime.map(|t| t as i64),
                    }),
                    None => listing
                        .undecodable
                        .push(name.to_string_lossy().into_owned()),
                }
            }
            Ok(listing)
        })
    }

    fn read(
        &mut self,
        name: &str,
        size_hint: u64,
        progress: &dyn Fn(u64),
    ) -> Result<Vec<u8>, RemoteError> {
        let path = format!("{}/{name}", self.target.path.trim_end_matches('/'));
        self.with_retries(&format!("downloading {name}"), |sftp| {
            let mut file = sftp
                .open(Path::new(&path))
                .map_err(|e| RemoteError::transient(format!("opening {path}: {e}")))?;
            let mut bytes = Vec::with_capacity(size_hint as usize);
            let mut chunk = vec![0u8; READ_CHUNK];
            loop {
                let read = file
                    .read(&mut chunk)
                    .map_err(|e| RemoteError::transient(format!("reading {path}: {e}")))?;
                if read == 0 {
                    break;
                }
                bytes.extend_from_slice(&chunk[..read]);
                progress(read as u64);
            }
            Ok(bytes)
        })
    }
}

/// Open an authenticated sFTP session.
fn connect(target: &SftpTarget) -> Result<(Session, Sftp), RemoteError> {
    let address = format!("{}:{}", target.host, target.port);
    let socket = address
        .to_socket_addrs()
        .map_err(|e| RemoteError::transient(format!("resolving {address}: {e}")))?
        .next()
        .ok_or_else(|| RemoteError::fatal(format!("{address} resolves to no address")))?;
    let tcp = TcpStream::connect_timeout(&socket, Duration::from_secs(10))
        .map_err(|e| RemoteError::transient(format!("connecting to {address}: {e}")))?;
    tcp.set_read_timeout(Some(IO_TIMEOUT)).ok();
    let mut session =
        Session::new().map_err(|e| RemoteError::fatal(format!("sFTP session: {e}")))?;
    session.set_tcp_stream(tcp);
    session.set_timeout(IO_TIMEOUT.as_millis() as u32);
    session
        .handshake()
        .map_err(|e| RemoteError::transient(format!("SSH handshake with {address}: {e}")))?;
    verify_host_key(&session, target)?;
    authenticate(&session, target)?;
    let sftp = session
        .sftp()
        .map_err(|e| RemoteError::transient(format!("starting sFTP on {address}: {e}")))?;
    Ok((session, sftp))
}

fn verify_host_key(session: &Session, target: &SftpTarget) -> Result<(), RemoteError> {
    let (key, key_type) = session
        .host_key()
        .ok_or_else(|| RemoteError::fatal("the server sent no host key".into()))?;
    let fingerprint = session
        .host_key_hash(HashType::Sha256)
        .map(|h| h.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .unwrap_or_default();
    let mut known = session
        .known_hosts()
        .map_err(|e| RemoteError::fatal(format!("known hosts: {e}")))?;
    let file = &target.known_hosts;
    if file.exists() {
        known
            .read_file(file, KnownHostFileKind::OpenSSH)
            .map_err(|e| RemoteError::fatal(format!("reading {}: {e}", file.display())))?;
    }
    let address = format!("{}:{}", target.host, target.port);
    match known.check_port(&target.host, target.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(RemoteError::fatal(format!(
            "the host key of {address} does not match the one in {} (SHA-256 {fingerprint}): \
             refusing to connect; if the server's key really changed, remove the old entry",
            file.display()
        ))),
        CheckResult::NotFound if target.accept_new_host => {
            let entry = if target.port == 22 {
                target.host.clone()
            } else {
                format!("[{}]:{}", target.host, target.port)
            };
            known
                .add(&entry, key, "added by datacycle", key_type.into())
                .and_then(|()| {
                    if let Some(dir) = file.parent() {
                        std::fs::create_dir_all(dir).ok();
                    }
                    known.write_file(file, KnownHostFileKind::OpenSSH)
                })
                .map_err(|e| {
                    RemoteError::fatal(format!("recording the host key in {}: {e}", file.display()))
                })?;
            tracing::warn!(
                "recorded the previously unknown host key of {address} (SHA-256 {fingerprint}) in {}",
                file.display()
            );
            Ok(())
        }
        CheckResult::NotFound => Err(RemoteError::fatal(format!(
            "the host key of {address} (SHA-256 {fingerprint}) is not in {}: refusing an unknown \
             server; add it there, or set SFTP_ACCEPT_NEW_HOST=true to record it",
            file.display()
        ))),
        CheckResult::Failure => Err(RemoteError::fatal(format!(
            "cannot check the host key of {address} against {}",
            file.display()
        ))),
    }
}

fn authenticate(session: &Session, target: &SftpTarget) -> Result<(), RemoteError> {
    let who = target.display_address();
    let result = match (&target.key_file, &target.password) {
        (Some(key), _) => session.userauth_pubkey_file(&target.user, None, key, None),
        (None, Some(password)) => session.userauth_password(&target.user, password),
        (None, None) => {
            return Err(RemoteError::fatal(format!(
                "no credentials for {who}: set SFTP_PASSWORD or SFTP_KEY_FILE"
            )));
        }
    };
    match result {
        Ok(()) if session.authenticated() => Ok(()),
        // A wrong password is not retried: retrying cannot fix it and may lock the account.
        _ => Err(RemoteError::fatal(format!(
            "login to {who} refused ({}); check SFTP_USER and SFTP_PASSWORD / SFTP_KEY_FILE",
            if target.key_file.is_some() {
                "public key"
            } else {
                "password"
            }
        ))),
    }
}
