//! Reading the Delta log: the data files a range of commits added or removed (how incremental
//! steps find their new input and publish its changed days), the live files, commit metrics.

use futures::TryStreamExt;

use super::{DeltaTable, LakeError, Result};

/// A data file a commit added.
#[derive(Debug, Clone)]
pub struct AddedFile {
    /// Path relative to the table root.
    pub path: String,
    /// Partition column → value as Delta writes it (text; null as `None`).
    pub partition_values: std::collections::HashMap<String, Option<String>>,
}

/// Paths (relative to the table root) of the data files that commits `from + 1 ..= table version`
/// added and that are still live. A file that compaction has since rewritten is represented by
/// the compacted files of its partition (they hold its rows). `None` when part of that log is
/// gone (expired), in which case the caller must fall back to a full recompute.
pub async fn added_files_since(table: &DeltaTable, from: u64) -> Result<Option<Vec<AddedFile>>> {
    let Some(changes) = data_changes_since(table, from, Removes::None).await? else {
        return Ok(None);
    };
    let live: std::collections::HashSet<String> = live_files(table).await?.into_iter().collect();
    let (mut kept, rewritten): (Vec<AddedFile>, Vec<AddedFile>) = changes
        .added
        .into_iter()
        .partition(|f| live.contains(&f.path));
    for file in changes.compacted {
        let replaces = rewritten
            .iter()
            .any(|r| r.partition_values == file.partition_values);
        if replaces && live.contains(&file.path) {
            kept.push(file);
        }
    }
    Ok(Some(kept))
}

/// The key in the commit info of a retention commit (`Lake::expire_where`).
pub const RETENTION_MARK: &str = "datacycle.retention";

/// Which removals count as changed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// A table built from this one keeps its own copy of the days retention removed here.
    Ignore,
    /// A copy of this table (PostgreSQL) drops them too.
    Follow,
}

/// The data files that commits `from + 1 ..= table version` added or removed, live or not: their
/// partition values are the partitions whose content changed (a deleted partition included;
/// partitions removed by retention only with [`Retention::Follow`]). `None` as for
/// [`added_files_since`].
pub async fn changed_files_since(
    table: &DeltaTable,
    from: u64,
    retention: Retention,
) -> Result<Option<Vec<AddedFile>>> {
    let removes = match retention {
        Retention::Ignore => Removes::ButRetention,
        Retention::Follow => Removes::All,
    };
    Ok(data_changes_since(table, from, removes)
        .await?
        .map(|changes| changes.added))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removes {
    None,
    ButRetention,
    All,
}

/// The data files of a range of commits: those that changed data, and those compaction added.
#[derive(Default)]
struct Changes {
    added: Vec<AddedFile>,
    compacted: Vec<AddedFile>,
}

async fn data_changes_since(
    table: &DeltaTable,
    from: u64,
    removes: Removes,
) -> Result<Option<Changes>> {
    let Some(current) = table.version() else {
        return Ok(Some(Changes::default()));
    };
    let mut changed = Changes::default();
    for version in (from + 1)..=current {
        let Some(actions) = read_commit(table, version).await? else {
            return Ok(None);
        };
        let is_retention = actions.iter().any(|a| {
            a.get("commitInfo")
                .and_then(|info| info.get(RETENTION_MARK))
                .is_some_and(|mark| mark.as_bool() == Some(true))
        });
        let kinds: &[&str] = match removes {
            Removes::All => &["add", "remove"],
            Removes::ButRetention if !is_retention => &["add", "remove"],
            Removes::ButRetention | Removes::None => &["add"],
        };
        for action in &actions {
            for kind in kinds {
                if let Some((file, data_change)) = action.get(*kind).and_then(data_file) {
                    match (data_change, *kind) {
                        (true, _) => changed.added.push(file),
                        (false, "add") => changed.compacted.push(file),
                        (false, _) => {}
                    }
                }
            }
        }
    }
    Ok(Some(changed))
}

/// The actions of commit `version` of `table`; `None` when its log file is gone (expired).
async fn read_commit(table: &DeltaTable, version: u64) -> Result<Option<Vec<serde_json::Value>>> {
    let name = table.table_url().to_string();
    let entry = table
        .log_store()
        .read_commit_entry(version)
        .await
        .map_err(|e| LakeError::delta(name.clone(), e))?;
    let Some(bytes) = entry else { return Ok(None) };
    let actions = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            serde_json::from_slice::<serde_json::Value>(line).map_err(|e| LakeError::Corrupt {
                context: format!("{name} commit {version}"),
                message: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(actions))
}

/// One commit of a table's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub version: u64,
    pub time: Option<chrono::DateTime<chrono::Utc>>,
    /// Delta's operation name (WRITE, DELETE, OPTIMIZE …).
    pub operation: String,
    /// The operation's parameters and datacycle's own commit fields, as compact JSON.
    pub parameters: String,
    pub files_added: u64,
    pub files_removed: u64,
}

/// The newest `limit` commits of `table`, newest first; the history ends early where the log
/// was cleaned up (compaction keeps LOG_RETAIN_HOURS of it).
pub async fn history(table: &DeltaTable, limit: usize) -> Result<Vec<Commit>> {
    let Some(current) = table.version() else {
        return Ok(Vec::new());
    };
    let mut commits = Vec::new();
    for version in (0..=current).rev().take(limit) {
        let Some(actions) = read_commit(table, version).await? else {
            break;
        };
        commits.push(commit_of(version, &actions));
    }
    Ok(commits)
}

fn commit_of(version: u64, actions: &[serde_json::Value]) -> Commit {
    let info = actions.iter().find_map(|a| a.get("commitInfo"));
    let field = |name: &str| info.and_then(|i| i.get(name));
    let mut parameters = field("operationParameters")
        .and_then(|p| p.as_object())
        .cloned()
        .unwrap_or_default();
    if let Some(own) = info.and_then(|i| i.as_object()) {
        for (key, value) in own.iter().filter(|(k, _)| k.starts_with("datacycle.")) {
            parameters.insert(key.clone(), value.clone());
        }
    }
    let count = |kind: &str| actions.iter().filter(|a| a.get(kind).is_some()).count() as u64;
    Commit {
        version,
        time: field("timestamp")
            .and_then(|t| t.as_i64())
            .and_then(chrono::DateTime::from_timestamp_millis),
        operation: field("operation")
            .and_then(|o| o.as_str())
            .unwrap_or_default()
            .to_string(),
        parameters: serde_json::Value::Object(parameters).to_string(),
        files_added: count("add"),
        files_removed: count("remove"),
    }
}

/// The file of an `add` or `remove` action, and whether it changed data (`false`: a compaction
/// rewrite).
fn data_file(action: &serde_json::Value) -> Option<(AddedFile, bool)> {
    let data_change = action
        .get("dataChange")
        .and_then(|d| d.as_bool())
        .unwrap_or(true);
    let path = action.get("path").and_then(|p| p.as_str())?;
    let partition_values = action
        .get("partitionValues")
        .and_then(|v| v.as_object())
        .map(|values| {
            values
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                .collect()
        })
        .unwrap_or_default();
    let file = AddedFile {
        path: percent_encoding::percent_decode_str(path)
            .decode_utf8_lossy()
            .into_owned(),
        partition_values,
    };
    Some((file, data_change))
}

/// Relative paths of the live data files of `table`.
pub(super) async fn live_files(table: &DeltaTable) -> Result<Vec<String>> {
    let name = table.table_url().to_string();
    let snapshot = table
        .snapshot()
        .map_err(|e| LakeError::delta(name.clone(), e))?;
    let log_store = table.log_store();
    let files: Vec<_> = snapshot
        .snapshot()
        .file_views(log_store.as_ref(), None)
        .map_ok(|f| f.path().to_string())
        .try_collect()
        .await
        .map_err(|e| LakeError::delta(name, e))?;
    Ok(files)
}

/// A numeric operation metric (e.g. `num_added_rows`) of the latest commit of `table`.
pub async fn last_commit_metric(table: &DeltaTable, metric: &str) -> Option<u64> {
    use futures::StreamExt;
    let info = table.history(Some(1)).next().await?.ok()?;
    let metrics = info.info.get("operationMetrics")?;
    metrics.get(metric)?.as_u64()
}
