//! `gdpr export` and `gdpr erase`: an apartment's rows from every table, found by listing the
//! lake; an erasure checked against the stored files themselves, locally and on S3, and in
//! PostgreSQL.

use std::collections::BTreeMap;

use datacycle::lake::table_digest;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::ParquetReadOptions;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

use crate::common::{TestEnv, env_var, generate, summary_step, temp_dir};
use crate::crash::{KillPoint, run_and_kill};

/// The column names of lake table `name`.
async fn columns_of(ctx: &datafusion::prelude::SessionContext, name: &str) -> Vec<String> {
    let table = ctx.table(name).await.unwrap();
    table
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// The filter a per-apartment table is read with, written independently of the export's code.
fn apartment_filter(columns: &[String], apartment: &str) -> Option<String> {
    let has = |c: &str| columns.iter().any(|x| x == c);
    if has("apartment") {
        Some(format!("apartment = '{apartment}'"))
    } else if has("apartment_id") {
        Some(format!("apartment_id = '{apartment}'"))
    } else if has("apartment_key") {
        Some(format!(
            "apartment_key IN (SELECT apartment_key FROM gold.dim_apartment \
             WHERE apartment_id = '{apartment}')"
        ))
    } else {
        None
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_holds_exactly_the_apartments_rows_of_every_table_with_digests() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 2);
    let env = TestEnv::new().with_sources(&generated);
    env.run(&["rebuild"]);
    let out = env.dir.path().join("export-jeremie");
    env.run(&[
        "gdpr",
        "export",
        "--apartment",
        "jeremie",
        "--out",
        &out.to_string_lossy(),
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["apartment"], "jeremie");
    assert!(manifest["time_range"]["from"].is_string(), "{manifest}");

    // Every file the manifest names has the digest it says, and nothing else was written.
    let mut named = vec![out.join("manifest.json")];
    let tables = manifest["tables"].as_array().unwrap();
    let files = tables
        .iter()
        .flat_map(|t| t["files"].as_array().unwrap())
        .chain(manifest["landing_files"].as_array().unwrap());
    for file in files {
        let path = out.join(file["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            file["sha256"],
            hex::encode(Sha256::digest(&bytes)),
            "{file}"
        );
        assert_eq!(file["bytes"], bytes.len() as u64);
        named.push(path);
    }
    let mut written = crate::common::walk(&out);
    written.sort();
    named.sort();
    assert_eq!(written, named);

    // Landing files are the share's files, byte for byte.
    let landing = manifest["landing_files"].as_array().unwrap();
    let landed = env
        .count("SELECT count(*) FROM landing.sensor_files WHERE apartment = 'jeremie'")
        .await;
    assert_eq!(landing.len() as i64, landed);
    for file in landing {
        let path = out.join(file["path"].as_str().unwrap());
        let on_share = generated.smb.join(path.file_name().unwrap());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(on_share).unwrap()
        );
    }

    // Every table of the lake with an apartment column is in the export with exactly the rows a
    // query of its own returns.
    let session = env.session().await;
    let ctx = session.ctx();
    let mut checked = 0;
    for table in session.lake().list_tables().await.unwrap() {
        let name = table.to_string();
        let columns = columns_of(ctx, &name).await;
        let Some(filter) = apartment_filter(&columns, "jeremie") else {
            assert!(
                !tables.iter().any(|t| t["table"] == name),
                "{name} has no apartment"
            );
            continue;
        };
        let expected = env
            .count(&format!("SELECT count(*) FROM {name} WHERE {filter}"))
            .await;
        let entry = tables.iter().find(|t| t["table"] == name);
        if expected == 0 {
            assert!(entry.is_none(), "{name}: exported without rows");
            continue;
        }
        let entry = entry.unwrap_or_else(|| panic!("{name} ({expected} rows) is not exported"));
        assert_eq!(entry["rows"], expected, "{name}");
        assert_eq!(
            entry["version"],
            session.registered(&table).unwrap().version,
            "{name}"
        );
        let parquet = out.join(format!("{}/{}.parquet", table.layer.as_str(), table.name));
        let alias = format!("exported_{}_{}", table.layer.as_str(), table.name);
        ctx.register_parquet(
            &alias,
            parquet.to_str().unwrap(),
            ParquetReadOptions::default(),
        )
        .await
        .unwrap();
        let exported_columns: Vec<String> = ctx
            .table(alias.as_str())
            .await
            .unwrap()
            .schema()
            .fields()
            .iter()
            .map(|f| format!("\"{}\"", f.name()))
            .collect();
        let list = exported_columns.join(", ");
        let lake_rows = format!("SELECT {list} FROM {name} WHERE {filter}");
        for difference in [
            format!("SELECT {list} FROM {alias} EXCEPT ALL {lake_rows}"),
            format!("{lake_rows} EXCEPT ALL SELECT {list} FROM {alias}"),
        ] {
            let batches = ctx
                .sql(&format!("SELECT count(*) FROM ({difference})"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let differing = batches[0].column(0).as_primitive::<Int64Type>().value(0);
            assert_eq!(differing, 0, "{name}: {difference}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} tables hold jeremie's rows");

    // An export never overwrites, and an apartment without data is an error, not an empty export.
    let again = env
        .command()
        .args(["gdpr", "export", "--apartment", "jeremie", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let unknown = env
        .command()
        .args(["gdpr", "export", "--apartment", "nobody", "--out"])
        .arg(env.dir.path().join("nobody"))
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(!env.dir.path().join("nobody").exists());
}

/// What makes a stored file the erased apartment's, read here from the files themselves and
/// independently of the erasure's code: its partition path, or any value of an apartment column
/// or of the reference database's house name.
struct Marks {
    apartment: &'static str,
    key: i64,
    house: &'static str,
}

impl Marks {
    fn jimmy(key: i64) -> Self {
        Self {
            apartment: "jimmy",
            key,
            house: "JimmyLoup",
        }
    }

    fn holds(&self, path: &str, bytes: bytes::Bytes) -> bool {
        if path.contains(&format!("/{}/", self.apartment))
            || path.contains(&format!("apartment={}/", self.apartment))
        {
            return true;
        }
        if !path.ends_with(".parquet") {
            return false;
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.build())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        for batch in reader {
            let batch = batch.unwrap();
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                let texts = || {
                    let text = cast(column, &DataType::Utf8).unwrap();
                    text.as_string::<i32>()
                        .iter()
                        .flatten()
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                };
                let hit = match field.name().to_lowercase().as_str() {
                    "apartment" | "apartment_id" => texts().iter().any(|v| v == self.apartment),
                    "apartment_key" => texts().iter().any(|v| *v == self.key.to_string()),
                    "housename" => texts()
                        .iter()
                        .any(|v| v.trim().eq_ignore_ascii_case(self.house)),
                    _ => false,
                };
                if hit {
                    return true;
                }
            }
        }
        false
    }

    /// Every file of the lake's tables and landing zone in `store` under `prefix` (logs and
    /// `_ops` aside): whether it holds the apartment's data.
    async fn scan(&self, store: &dyn ObjectStore, prefix: &StorePath) -> BTreeMap<String, bool> {
        let objects: Vec<_> = store.list(Some(prefix)).try_collect().await.unwrap();
        let mut files = BTreeMap::new();
        for object in objects {
            let path = object.location.to_string();
            if path.contains("/_delta_log/") || path.contains("/_ops/") {
                continue;
            }
            let bytes = store
                .get(&object.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            files.insert(path.clone(), self.holds(&path, bytes));
        }
        files
    }
}

/// Assert that no object of `objects` in `store` contains `word`, ignoring case.
async fn assert_none_names(
    store: &dyn ObjectStore,
    objects: impl IntoIterator<Item = object_store::ObjectMeta>,
    word: &str,
) {
    for object in objects {
        let bytes = store
            .get(&object.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        assert!(
            !text.contains(&word.to_lowercase()),
            "{} names {word}",
            object.location
        );
    }
}

/// The first value of a one-value query through the binary (any lake, local or S3).
fn value(env: &TestEnv, sql: &str) -> String {
    let out = env.run(&["sql", "-c", sql, "--format", "csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().nth(1).unwrap_or_default().to_string()
}

fn held(files: &BTreeMap<String, bool>) -> Vec<&String> {
    files.iter().filter(|(_, h)| **h).map(|(f, _)| f).collect()
}

/// Erase jimmy from `env` (rebuilt, then rebuilt in full so that older versions hold his rows
/// too) and check storage: exactly the files that held his data are gone.
async fn erase_jimmy(env: &TestEnv, store: &dyn ObjectStore, prefix: &StorePath) -> Marks {
    env.run(&["rebuild", "--full"]);
    let key: i64 = value(
        env,
        "SELECT apartment_key FROM gold.dim_apartment WHERE apartment_id = 'jimmy'",
    )
    .parse()
    .unwrap();
    let marks = Marks::jimmy(key);
    let before = marks.scan(store, prefix).await;
    let jimmys = held(&before);
    for layer in ["/landing/", "/bronze/ref_buildings/", "/gold/"] {
        assert!(
            jimmys.iter().any(|f| f.contains(layer)),
            "no file of jimmy under {layer} to test with: {jimmys:?}"
        );
    }
    let jeremie_events = value(
        env,
        "SELECT count(*) FROM silver.sensor_events WHERE apartment = 'jeremie'",
    );

    let unconfirmed = env
        .command()
        .args(["gdpr", "erase", "--apartment", "jimmy"])
        .output()
        .unwrap();
    assert_eq!(unconfirmed.status.code(), Some(2), "{unconfirmed:?}");
    let dry = env.run(&[
        "gdpr",
        "erase",
        "--apartment",
        "jimmy",
        "--dry-run",
        "--format",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let landing = summary_step(&plan, "erase landing.sensor_files");
    assert!(landing["files"].as_u64().unwrap() > 0, "{plan}");
    assert_eq!(
        marks.scan(store, prefix).await,
        before,
        "a dry run changed storage"
    );

    // Killed right after a table's commit, before that table's files are deleted: the next
    // run finds what is left.
    let erase = ["gdpr", "erase", "--apartment", "jimmy", "--yes"];
    let point = KillPoint {
        marker: "erasure committed",
        nth: 2,
    };
    assert!(
        run_and_kill(env, &erase, &point),
        "the erasure ended before the kill"
    );
    let done = env.run(&[
        "gdpr",
        "erase",
        "--apartment",
        "jimmy",
        "--yes",
        "--format",
        "json",
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    let erased_files: u64 = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["step"].as_str().unwrap().starts_with("erase "))
        .map(|s| s["files"].as_u64().unwrap())
        .sum();
    let after = marks.scan(store, prefix).await;
    assert!(held(&after).is_empty(), "left: {:?}", held(&after));
    for (file, holds) in &before {
        assert_eq!(
            after.contains_key(file),
            !holds,
            "{file}: only the files that held jimmy's data go"
        );
    }
    assert!(
        erased_files > 0 && erased_files as usize <= jimmys.len(),
        "{summary}"
    );
    assert!(
        !after.keys().any(|f| f.to_lowercase().contains("jimmy")),
        "a path still names jimmy"
    );
    assert_eq!(
        value(
            env,
            "SELECT count(*) FROM silver.sensor_events WHERE apartment = 'jeremie'"
        ),
        jeremie_events
    );

    // The Delta logs left never spell out the house name (the residents' names).
    let logs: Vec<_> = store.list(Some(prefix)).try_collect().await.unwrap();
    let logs = logs
        .into_iter()
        .filter(|o| o.location.as_ref().contains("/_delta_log/"));
    assert_none_names(store, logs, marks.house).await;

    // Versions that held his rows are gone with their log: not even aggregates of them remain.
    let old = env
        .command()
        .args([
            "sql",
            "-c",
            "SELECT apartment, count(*) FROM table_at('silver.sensor_events', 0) GROUP BY 1",
        ])
        .output()
        .unwrap();
    assert!(!old.status.success(), "{old:?}");
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("time travel"),
        "{old:?}"
    );

    // Again: nothing is left, nothing changes.
    env.run(&["gdpr", "erase", "--apartment", "jimmy", "--yes"]);
    assert_eq!(marks.scan(store, prefix).await, after);
    marks
}

/// After the erasure: jimmy's files, still on the share, are refused by every ingest; the audit
/// record counts and names no one.
async fn refused_and_audited(
    env: &TestEnv,
    store: &dyn ObjectStore,
    prefix: &StorePath,
    marks: &Marks,
) {
    env.run(&["rebuild"]);
    let ingest = env.run(&["ingest", "sensors", "--full", "--format", "json"]);
    let ingest: serde_json::Value = serde_json::from_slice(&ingest.stdout).unwrap();
    let refused = summary_step(&ingest, "ingest sensors")["counters"]["refused_erased"].clone();
    assert!(refused.as_u64().unwrap() > 0, "{ingest}");
    assert!(held(&marks.scan(store, prefix).await).is_empty());
    assert_eq!(
        value(
            env,
            "SELECT count(*) FROM landing.sensor_files WHERE apartment = 'jimmy'"
        ),
        "0"
    );

    // The audit record counts, and names no one.
    let audit = value(
        env,
        "SELECT count(*) FROM _ops.runs WHERE command = 'gdpr erase' AND outcome = 'ok'",
    );
    assert!(audit.parse::<u64>().unwrap() > 0, "{audit}");
    let runs = env.run(&["sql", "-c", "SELECT * FROM _ops.runs", "--format", "csv"]);
    assert!(
        !String::from_utf8_lossy(&runs.stdout)
            .to_lowercase()
            .contains("jimmy")
    );
    let state: Vec<_> = store
        .list(Some(&prefix.clone().join("_ops").join("state")))
        .try_collect()
        .await
        .unwrap();
    assert_none_names(store, state, marks.apartment).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn erasing_jimmy_leaves_nothing_of_him_in_the_lake_or_postgresql_and_jeremie_intact() {
    let (env, app, _sources) = crate::publish::published_lake("gdpr_erase", 1).await;
    let pg = crate::publish::connect(&app).await;
    pg.batch_execute(
        "INSERT INTO gold.user_principal_apartment_map (user_principal_name, apartment_key)
         SELECT apartment_id || '@example.org', apartment_key FROM gold.dim_apartment",
    )
    .await
    .unwrap();
    let apartment_tables = "SELECT table_name, min(column_name) FROM information_schema.columns
         WHERE table_schema = 'gold' AND column_name IN ('apartment_id', 'apartment_key')
         GROUP BY table_name ORDER BY 1";
    let pg_rows = async |apartment: &str, key: i64| -> BTreeMap<String, i64> {
        let mut counts = BTreeMap::new();
        for row in pg.query(apartment_tables, &[]).await.unwrap() {
            let (table, column): (String, String) = (row.get(0), row.get(1));
            let filter = if column == "apartment_id" {
                format!("apartment_id = '{apartment}'")
            } else {
                format!("apartment_key = {key}")
            };
            let count: i64 = pg
                .query_one(
                    &format!("SELECT count(*) FROM gold.{table} WHERE {filter}"),
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            counts.insert(table, count);
        }
        counts
    };
    let key = async |apartment: &str| -> i64 {
        pg.query_one(
            "SELECT apartment_key FROM gold.dim_apartment WHERE apartment_id = $1",
            &[&apartment],
        )
        .await
        .unwrap()
        .get(0)
    };
    let (jimmy_key, jeremie_key) = (key("jimmy").await, key("jeremie").await);
    let jeremie_in_pg = pg_rows("jeremie", jeremie_key).await;
    assert!(pg_rows("jimmy", jimmy_key).await.values().sum::<i64>() > 100);

    // jeremie's rows of every table, as digests, before.
    let jeremie_digests = async || {
        let session = env.session().await;
        let mut digests = BTreeMap::new();
        for table in session.lake().list_tables().await.unwrap() {
            let name = table.to_string();
            let columns = columns_of(session.ctx(), &name).await;
            let Some(filter) = apartment_filter(&columns, "jeremie") else {
                continue;
            };
            let view = format!("jeremie_{}_{}", table.layer.as_str(), table.name);
            session
                .ctx()
                .sql(&format!(
                    "CREATE VIEW {view} AS SELECT * FROM {name} WHERE {filter}"
                ))
                .await
                .unwrap();
            let digest = table_digest(session.ctx(), &view, &["ingested_at", "snapshot_at"])
                .await
                .unwrap();
            digests.insert(name, (digest.rows, digest.hash));
        }
        digests
    };
    let before = jeremie_digests().await;
    assert!(before.values().filter(|(rows, _)| *rows > 0).count() >= 10);

    let store = object_store::local::LocalFileSystem::new();
    let prefix = StorePath::from_absolute_path(&env.lake).unwrap();
    let marks = erase_jimmy(&env, &store, &prefix).await;

    // No table holds a row of jimmy (the keys gold used included); jeremie's are as they were.
    let session = env.session().await;
    for table in session.lake().list_tables().await.unwrap() {
        let name = table.to_string();
        let columns = columns_of(session.ctx(), &name).await;
        if columns.iter().any(|c| c == "apartment_key") {
            let left = env
                .count(&format!(
                    "SELECT count(*) FROM {name} WHERE apartment_key = {jimmy_key}"
                ))
                .await;
            assert_eq!(left, 0, "{name}");
        }
        if let Some(filter) = apartment_filter(&columns, "jimmy") {
            let left = env
                .count(&format!("SELECT count(*) FROM {name} WHERE {filter}"))
                .await;
            assert_eq!(left, 0, "{name}");
        }
    }
    assert_eq!(jeremie_digests().await, before);

    // PostgreSQL: none of jimmy, all of jeremie, the deployer's maps included.
    assert!(pg_rows("jimmy", jimmy_key).await.values().all(|n| *n == 0));
    let left: i64 = pg
        .query_one(
            "SELECT count(*) FROM gold.user_principal_apartment_map WHERE apartment_key = $1",
            &[&jimmy_key],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert_eq!(pg_rows("jeremie", jeremie_key).await, jeremie_in_pg);

    refused_and_audited(&env, &store, &prefix, &marks).await;
    assert_eq!(jeremie_digests().await, before);

    // Re-admitted, his files are landed again.
    env.run(&["gdpr", "readmit", "--apartment", "jimmy"]);
    env.run(&["ingest", "sensors"]);
    assert_ne!(
        value(
            &env,
            "SELECT count(*) FROM landing.sensor_files WHERE apartment = 'jimmy'"
        ),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn erasing_jimmy_from_an_s3_lake_deletes_every_object_that_held_his_data() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 2);
    let env = crate::s3::s3_env(TestEnv::new().with_sources(&generated));
    env.run(&["rebuild"]);
    let lake_url = env
        .vars
        .iter()
        .find(|(k, _)| k == "LAKE_URL")
        .map(|(_, v)| url::Url::parse(v).unwrap())
        .unwrap();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(env_var("DATACYCLE_TEST_S3_ENDPOINT"))
        .with_bucket_name(lake_url.host_str().unwrap())
        .with_access_key_id("datacycle")
        .with_secret_access_key("s3-test-secret-key")
        .with_region("us-east-1")
        .with_allow_http(true)
        .build()
        .unwrap();
    let prefix = StorePath::from(lake_url.path().trim_start_matches('/'));
    let marks = erase_jimmy(&env, &store, &prefix).await;
    refused_and_audited(&env, &store, &prefix, &marks).await;
}
