//! A folder of files on another system (an sFTP server, or a local folder standing in for one),
//! read one file at a time.

use std::path::{Path, PathBuf};

/// A failure reading a remote folder. Transient failures (a lost connection, a timeout) are
/// worth retrying; fatal ones (refused login, unknown host key) are not.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    pub message: String,
    transient: bool,
}

impl RemoteError {
    pub fn transient(message: String) -> Self {
        Self {
            message,
            transient: true,
        }
    }

    pub fn fatal(message: String) -> Self {
        Self {
            message,
            transient: false,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.transient
    }
}

/// A regular file of a remote folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub name: String,
    pub size: u64,
    /// Last modification, seconds since the epoch, when the server says.
    pub modified: Option<i64>,
}

/// What listing a folder gave.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<RemoteFile>,
    /// Names that are not UTF-8 (they cannot be named in the lake): counted and reported.
    pub undecodable: Vec<String>,
}

/// Files that can be listed and read.
pub trait RemoteFolder: Send {
    /// Where the files are, for messages (no secrets).
    fn describe(&self) -> String;
    /// Every regular file.
    fn list(&mut self) -> Result<Listing, RemoteError>;
    /// The whole content of `name`, reporting bytes read to `progress`.
    fn read(
        &mut self,
        name: &str,
        size_hint: u64,
        progress: &dyn Fn(u64),
    ) -> Result<Vec<u8>, RemoteError>;
}

/// Every regular file directly in the local folder `dir` (the weather folder, the mounted share).
pub fn list_local(dir: &Path) -> std::io::Result<Listing> {
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // A file removed between listing and stat is simply not there.
        let Some(meta) = entry.metadata().ok().filter(|m| m.is_file()) else {
            continue;
        };
        match entry.file_name().into_string() {
            Ok(name) => listing.files.push(RemoteFile {
                name,
                size: meta.len(),
                modified: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs() as i64),
            }),
            Err(raw) => listing.undecodable.push(raw.to_string_lossy().into_owned()),
        }
    }
    Ok(listing)
}

/// A local folder.
pub struct LocalFolder(pub PathBuf);

impl RemoteFolder for LocalFolder {
    fn describe(&self) -> String {
        self.0.display().to_string()
    }

    fn list(&mut self) -> Result<Listing, RemoteError> {
        list_local(&self.0)
            .map_err(|e| RemoteError::fatal(format!("listing {}: {e}", self.0.display())))
    }

    fn read(
        &mut self,
        name: &str,
        _size_hint: u64,
        progress: &dyn Fn(u64),
    ) -> Result<Vec<u8>, RemoteError> {
        let path = self.0.join(name);
        let bytes = std::fs::read(&path)
            .map_err(|e| RemoteError::fatal(format!("reading {}: {e}", path.display())))?;
        progress(bytes.len() as u64);
        Ok(bytes)
    }
}
