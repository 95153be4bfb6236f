//! `compact` and `vacuum` on a lake built tick by tick: compaction leaves at most two files per
//! partition with the same rows, incremental builds after it stay equal to a full rebuild, and
//! vacuum deletes exactly the replaced files (a dry run nothing; a short retention only with
//! `--yes`).

use std::collections::HashMap;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use crate::common::{TestEnv, files_by_minute, generate, temp_dir, walk};

/// The most data files any partition of any lake table has.
async fn max_files_per_partition(env: &TestEnv) -> usize {
    let lake = datacycle::lake::Lake::open(&env.lake.to_string_lossy()).unwrap();
    let mut most = 0;
    for table in lake.list_tables().await.unwrap() {
        let delta = lake.open_table(&table).await.unwrap().unwrap();
        let files = delta.snapshot().unwrap().add_actions_table(true).unwrap();
        let columns: Vec<_> = files
            .schema()
            .fields()
            .iter()
            .filter(|f| f.name().starts_with("partition."))
            .map(|f| cast(files.column_by_name(f.name()).unwrap(), &DataType::Utf8).unwrap())
            .collect();
        let mut per_partition: HashMap<String, usize> = HashMap::new();
        for row in 0..files.num_rows() {
            let key: Vec<&str> = columns
                .iter()
                .map(|c| c.as_string::<i32>().value(row))
                .collect();
            *per_partition.entry(key.join("/")).or_default() += 1;
        }
        most = most.max(per_partition.values().copied().max().unwrap_or(0));
    }
    most
}

/// Parquet files of the data layers (every command appends one to `_ops.runs`).
fn parquet_files(env: &TestEnv) -> usize {
    walk(&env.lake)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .filter(|p| !p.starts_with(env.lake.join("_ops")))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn compaction_and_vacuum_keep_every_row_and_later_ticks_stay_exact() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 2);
    let files = files_by_minute(&generated.smb);
    let (first, rest) = files.split_at(files.len() * 4 / 5);
    let staged = TestEnv::new();
    for slice in first.chunks(first.len() / 5 + 1) {
        for file in slice {
            std::fs::copy(file, staged.share.join(file.file_name().unwrap())).unwrap();
        }
        staged.run(&["ingest", "sensors", "--full"]);
        staged.run(&["build"]);
    }
    assert!(max_files_per_partition(&staged).await > 2);
    let before = staged.digests().await;

    staged.run(&["compact"]);
    assert!(max_files_per_partition(&staged).await <= 2);
    assert_eq!(staged.digests().await, before, "compaction changed rows");
    // Every table has a checkpoint now.
    let lake = datacycle::lake::Lake::open(&staged.lake.to_string_lossy()).unwrap();
    for table in lake.list_tables().await.unwrap() {
        let log = staged.lake.join(format!(
            "{}/{}/_delta_log/_last_checkpoint",
            table.layer.as_str(),
            table.name
        ));
        assert!(log.exists(), "{table} has no checkpoint");
    }

    // The files compaction replaced are still there, until vacuum deletes them.
    let on_disk = parquet_files(&staged);
    staged.run(&["vacuum", "--retain-hours", "0", "--dry-run"]);
    assert_eq!(parquet_files(&staged), on_disk, "a dry run deleted files");
    let refused = staged
        .command()
        .args(["vacuum", "--retain-hours", "0"])
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a short retention needs --yes"
    );
    assert_eq!(parquet_files(&staged), on_disk);
    staged.run(&["vacuum", "--retain-hours", "0", "--yes"]);
    assert!(parquet_files(&staged) < on_disk, "vacuum deleted nothing");
    assert_eq!(staged.digests().await, before, "vacuum lost rows");

    // A tick after all that, compacted between bronze and silver (silver has not consumed the
    // bronze files compaction rewrites): the same lake as one full build.
    for file in rest {
        std::fs::copy(file, staged.share.join(file.file_name().unwrap())).unwrap();
    }
    staged.run(&["ingest", "sensors", "--full"]);
    staged.run(&["build", "bronze"]);
    staged.run(&["compact", "--table", "bronze.sensor_readings"]);
    staged.run(&["build"]);
    let whole = TestEnv::new().with_share(&generated.smb);
    whole.run(&["rebuild"]);
    assert_eq!(staged.digests().await, whole.digests().await);
}
