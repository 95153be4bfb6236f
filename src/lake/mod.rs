//! The lake: one root URL (a local folder or `s3://bucket/prefix`) holding the raw landing zone,
//! the Delta tables of every layer and the `_ops` area (writer lease, queues, state).
//! Every byte the pipeline writes goes through one `object_store` instance, so the same code
//! runs on a laptop folder and on S3/MinIO.

mod digest;
pub mod erase;
pub mod erasures;
pub mod landing;
mod listing;
mod local_file;
mod local_store;
mod lock;
mod log;
pub mod maintenance;
pub mod partitions;
mod queue;
pub mod retention;
pub mod runs;
mod session;
pub mod state;
pub mod stats;
mod store;
mod table;
mod time_travel;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;
use url::Url;

pub use digest::{ContentHasher, TableDigest, table_digest};
pub use lock::{LeaseHolder, WriterLease, current_holder};
pub use log::{
    AddedFile, Commit, RETENTION_MARK, Retention, added_files_since, changed_files_since, history,
    last_commit_metric,
};
pub use partitions::{PartitionBatch, PartitionValue, partition_filter};
pub use queue::{LandingQueue, QueueSnapshot, QueuedFile};
pub use session::{LakeSession, Registered, table_reference};
pub use table::{DeltaTable, Layer, TableRef, partition_columns, table_id};
pub use time_travel::{AsOf, TABLE_AT};
pub use write::{TableWrite, WriteInput, WriteMode};

pub type Result<T, E = LakeError> = std::result::Result<T, E>;

// Library errors are boxed to keep `Result<T, LakeError>` small on the happy path.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("lake URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("object store: {0}")]
    ObjectStore(Box<object_store::Error>),
    #[error("delta table {table}: {source}")]
    Delta {
        table: String,
        source: Box<deltalake::DeltaTableError>,
    },
    #[error("SQL engine: {0}")]
    DataFusion(Box<datafusion::error::DataFusionError>),
    #[error("arrow: {0}")]
    Arrow(Box<datafusion::arrow::error::ArrowError>),
    #[error(
        "the lake is locked by another writer: {holder}. Wait for it to finish, or pass \
         --lock-wait <seconds> (LOCK_WAIT_SECS) to wait"
    )]
    Locked { holder: String },
    #[error("the writer lease was taken over by {holder}; stopping before writing anything more")]
    LeaseLost { holder: String },
    #[error("{context}: {message}")]
    Corrupt { context: String, message: String },
    #[error("time travel: {table} as of {as_of} cannot be read: {reason}")]
    TimeTravel {
        table: String,
        as_of: String,
        reason: String,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl LakeError {
    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        use crate::ops::exit;
        match self {
            Self::InvalidUrl { .. } | Self::TimeTravel { .. } => exit::CONFIG,
            Self::Locked { .. } | Self::LeaseLost { .. } => exit::LOCKED,
            Self::ObjectStore(_)
            | Self::Delta { .. }
            | Self::DataFusion(_)
            | Self::Arrow(_)
            | Self::Corrupt { .. }
            | Self::Write { .. } => exit::FAILURE,
        }
    }

    pub fn delta(table: impl Into<String>, source: deltalake::DeltaTableError) -> Self {
        Self::Delta {
            table: table.into(),
            source: Box::new(source),
        }
    }
}

impl From<object_store::Error> for LakeError {
    fn from(e: object_store::Error) -> Self {
        Self::ObjectStore(Box::new(e))
    }
}

impl From<datafusion::error::DataFusionError> for LakeError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::DataFusion(Box::new(e))
    }
}

impl From<datafusion::arrow::error::ArrowError> for LakeError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Self::Arrow(Box::new(e))
    }
}

/// An opened lake root.
#[derive(Clone)]
pub struct Lake {
    /// Root URL, always ending with `/`.
    root: Url,
    /// Store whose `/` is the file system root or the bucket; Delta tables are opened on it.
    root_store: Arc<dyn ObjectStore>,
    /// Path of the lake root inside `root_store`.
    prefix: Path,
    /// The folder of a `file://` lake, resolved once (file copies ask for it per file).
    local_root: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("root", &self.root.as_str())
            .finish()
    }
}

impl Lake {
    /// Open (and for a local path, create) the lake at `location`: a path or `s3://` URL.
    pub fn open(location: &str) -> Result<Self> {
        let (root, root_store, prefix) = store::open_root(location)?;
        let local_root = (root.scheme() == "file")
            .then(|| root.to_file_path().ok())
            .flatten();
        Ok(Self {
            root,
            root_store,
            prefix,
            local_root,
        })
    }

    /// The root URL of the lake.
    pub fn url(&self) -> &Url {
        &self.root
    }

    /// Whether the lake lives on the local file system.
    pub fn is_local(&self) -> bool {
        self.root.scheme() == "file"
    }

    /// The local folder of a `file://` lake.
    pub fn local_root(&self) -> Option<std::path::PathBuf> {
        self.local_root.clone()
    }

    /// Stream the file `source` into the local lake at `relative` without holding it in memory
    /// (a file too large to parse, landed to be kept and quarantined); `None` when `source` is
    /// gone. Only for a local lake (panics otherwise): other lakes stream a multipart upload.
    pub fn copy_in_blocking(
        &self,
        relative: &str,
        source: &std::path::Path,
        sync: bool,
    ) -> Result<Option<u64>> {
        let root = self
            .local_root
            .as_ref()
            .expect("copy_in_blocking needs a local lake");
        let path = root.join(relative);
        let write_error = |source| LakeError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut input = match std::fs::File::open(source) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(write_error(e)),
        };
        let mut copied = 0;
        let created = local_file::create_atomically_with(&path, sync, |file| {
            copied = std::io::copy(&mut input, file)?;
            Ok(())
        })
        .map_err(write_error)?;
        if created == local_file::Created::Fallback {
            // Replacing an existing file: copy beside it and rename over it.
            let staging = path.with_extension("partial");
            copied = std::fs::copy(source, &staging).map_err(write_error)?;
            std::fs::rename(&staging, &path).map_err(write_error)?;
            if sync {
                local_file::sync_file(&path).map_err(write_error)?;
            }
        }
        Ok(Some(copied))
    }

    /// On a local lake, make the file `relative` and its name durable (object stores are
    /// durable once a put returns).
    pub fn sync_file(&self, relative: &str) -> Result<()> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let path = root.join(relative);
        local_file::sync_file(&path).map_err(|source| LakeError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// The store rooted at the bucket (or file system root).
    pub fn root_store(&self) -> &Arc<dyn ObjectStore> {
        &self.root_store
    }

    /// Absolute store path of `relative` (a path inside the lake such as `landing/sensors`).
    pub fn path(&self, relative: &str) -> Path {
        let relative = Path::from(relative);
        let mut parts: Vec<_> = self.prefix.parts().collect();
        parts.extend(relative.parts());
        Path::from_iter(parts)
    }

    /// `relative` path of an absolute store path inside this lake.
    pub fn relative(&self, path: &Path) -> Option<String> {
        path.prefix_match(&self.prefix).map(|parts| {
            parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    /// URL of a table folder.
    pub fn table_url(&self, table: &TableRef) -> Url {
        self.root
            .join(&format!("{}/{}/", table.layer.as_str(), table.name))
            .expect("table names are valid URL segments")
    }

    /// Storage options deltalake needs besides the store itself.
    pub(crate) fn storage_options(&self) -> HashMap<String, String> {
        store::delta_storage_options(&self.root)
    }
}
