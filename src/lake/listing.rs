//! Listing every file under a lake prefix. On a local lake the tree is walked with plain file
//! system calls on several threads (object_store's local listing stats and wraps every entry one
//! by one, which dominates a 200,000-file reconciliation); on S3 it is one paginated LIST.

use std::path::{Path as FsPath, PathBuf};

use futures::TryStreamExt;

use super::{Lake, Result};
use crate::lake::QueuedFile;
use crate::ops::parallel::map_blocking;

impl Lake {
    /// Every object below `prefix` (relative to the lake root) as (relative path, size).
    pub async fn list_files(&self, prefix: &str, threads: usize) -> Result<Vec<QueuedFile>> {
        if let Some(root) = self.local_root() {
            let prefix = prefix.to_string();
            let files = tokio::task::spawn_blocking(move || walk_local(&root, &prefix, threads))
                .await
                .map_err(|e| super::LakeError::Corrupt {
                    context: "listing landing".into(),
                    message: e.to_string(),
                })?;
            return Ok(files);
        }
        let objects: Vec<_> = self
            .root_store()
            .list(Some(&self.path(prefix)))
            .try_collect()
            .await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| {
                Some(QueuedFile {
                    path: self.relative(&o.location)?,
                    size: o.size,
                })
            })
            .collect())
    }
}

/// Files below `root/prefix`, walking the directories of the second level in parallel.
fn walk_local(root: &FsPath, prefix: &str, threads: usize) -> Vec<QueuedFile> {
    let start = root.join(prefix);
    // Fan out below the first two levels (apartment / year for landing), which are few.
    let mut frontier = vec![(start, prefix.to_string())];
    let mut files = Vec::new();
    for _ in 0..2 {
        let mut next = Vec::new();
        for (dir, relative) in frontier {
            read_level(&dir, &relative, &mut next, &mut files);
        }
        frontier = next;
    }
    let nested: Vec<Vec<QueuedFile>> = map_blocking(&frontier, threads, |(dir, relative)| {
        let mut found = Vec::new();
        walk(dir, relative, &mut found);
        found
    });
    files.extend(nested.into_iter().flatten());
    files
}

fn walk(dir: &FsPath, relative: &str, files: &mut Vec<QueuedFile>) {
    let mut dirs = Vec::new();
    read_level(dir, relative, &mut dirs, files);
    for (dir, relative) in dirs {
        walk(&dir, &relative, files);
    }
}

/// Split the entries of `dir` into sub-directories and files. Staging files of an unfinished
/// put (`name#n`) are not objects and are skipped, as object_store's listing does.
fn read_level(
    dir: &FsPath,
    relative: &str,
    dirs: &mut Vec<(PathBuf, String)>,
    files: &mut Vec<QueuedFile>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let child = format!("{relative}/{name}");
        if kind.is_dir() {
            dirs.push((entry.path(), child));
        } else if kind.is_file()
            && !name.contains('#')
            && let Ok(meta) = entry.metadata()
        {
            files.push(QueuedFile {
                path: child,
                size: meta.len(),
            });
        }
    }
}
