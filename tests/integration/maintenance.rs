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

    // The files compaction replaced are still there, until vacuum deletes them: the first
    // version of silver (its partitions rewritten by every later tick) is readable.
    let distinct = "SELECT count(DISTINCT ts) FROM silver.sensor_events";
    let as_of_first = ["sql", "--as-of", "0", "-c", distinct, "--format", "csv"];
    staged.run(&as_of_first);
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
    // Time travel to a vacuumed version fails and says why.
    let gone = staged.command().args(as_of_first).output().unwrap();
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert_eq!(gone.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("time travel") && stderr.contains("vacuum"),
        "{stderr}"
    );

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

#[tokio::test(flavor = "multi_thread")]
async fn layer_retention_removes_old_days_and_the_layers_built_from_them_keep_theirs() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 3, 2);
    // 2023-08-18 to 2023-08-20; on the 21st, keeping 2 days keeps the 19th and the 20th.
    let env = TestEnv::new()
        .with_share(&generated.smb)
        .var("DATACYCLE_NOW", "2023-08-21T12:00:00Z")
        .var("RETENTION_LANDING_DAYS", "-1");
    env.run(&["rebuild"]);
    let first_day = "SELECT count(*) FROM silver.sensor_events WHERE date = DATE '2023-08-18'";
    let gold_first_day = "SELECT count(*) FROM gold.fact_energy_minute WHERE date_key = 20230818";
    let (silver_rows, gold_rows) = (env.count(first_day).await, env.count(gold_first_day).await);
    assert!(silver_rows > 0 && gold_rows > 0);
    let bronze_rows = env
        .count("SELECT count(*) FROM bronze.sensor_readings")
        .await;
    let retention = |dry_run: bool| {
        let mut command = env.command();
        command
            .env("RETENTION_SILVER_DAYS", "2")
            .env("RETENTION_BRONZE_DAYS", "2")
            .args(["retention", "--format", "json"]);
        if dry_run {
            command.arg("--dry-run");
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };

    let planned = retention(true);
    let events = planned["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "retention silver.sensor_events")
        .expect("silver.sensor_events has a retention step");
    assert_eq!(events["counters"]["partitions"], 2, "{events}");
    assert_eq!(
        env.count(first_day).await,
        silver_rows,
        "a dry run removed rows"
    );

    retention(false);
    assert_eq!(env.count(first_day).await, 0, "silver kept an expired day");
    assert!(env.count("SELECT count(*) FROM silver.sensor_events").await > 0);
    assert!(
        env.count("SELECT count(*) FROM bronze.sensor_readings")
            .await
            < bronze_rows
    );
    // Gold keeps its copy of the day silver no longer has, also through later builds.
    assert_eq!(env.count(gold_first_day).await, gold_rows);
    env.run(&["build"]);
    env.run(&["build"]);
    assert_eq!(env.count(gold_first_day).await, gold_rows);
    assert_eq!(
        env.count(first_day).await,
        0,
        "a build brought an expired day back"
    );
    // Dimensions and the index of days are never expired.
    assert!(
        env.count("SELECT count(*) FROM silver.device_days WHERE date = DATE '2023-08-18'")
            .await
            > 0
    );
}
