//! The reference database from a real MariaDB (started and seeded by scripts/test.sh): snapshot
//! fidelity, GDPR (the test user may read only the ten imported tables, so touching any other
//! table fails the run), every awkward table state, an unreachable server, idempotent re-runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use datacycle::catalog::tables::REFERENCE_TABLES as TABLES;
use datacycle::lake::TableDigest;
use mysql_async::prelude::Queryable;

use crate::common::{TestEnv, env_var, summary_step};

fn seed_dir() -> PathBuf {
    PathBuf::from(env_var("DATACYCLE_TEST_MYSQL_SEED"))
}

/// The house map of the generated seed (its `sources.env`).
fn seed_house_map() -> String {
    let env = std::fs::read_to_string(seed_dir().join("../sources.env")).unwrap();
    env.lines()
        .find_map(|l| l.strip_prefix("HOUSE_MAP="))
        .expect("sources.env names HOUSE_MAP")
        .to_string()
}

/// Rows of a seed CSV (header excluded).
fn seed_rows(table: &str) -> usize {
    let mut reader = csv::Reader::from_path(seed_dir().join(format!("{table}.csv"))).unwrap();
    reader.records().count()
}

/// A database of its own, loaded with the seed, readable by the restricted test user (the ten
/// imported tables only).
struct ScratchDb {
    admin: String,
    url: String,
}

impl ScratchDb {
    async fn new() -> Self {
        let admin = env_var("DATACYCLE_TEST_MYSQL_ADMIN_URL");
        let name = format!("scratch_{}", uuid::Uuid::new_v4().simple());
        let mut conn = mysql_async::Conn::from_url(admin.as_str()).await.unwrap();
        conn.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .await
            .unwrap();
        conn.query_drop(format!("USE `{name}`")).await.unwrap();
        let seed = std::fs::read_to_string(seed_dir().join("seed.sql")).unwrap();
        conn.query_drop(seed).await.unwrap();
        for table in TABLES {
            conn.query_drop(format!(
                "GRANT SELECT ON `{name}`.`{table}` TO 'datacycle_reader'@'127.0.0.1'"
            ))
            .await
            .unwrap();
        }
        conn.disconnect().await.unwrap();
        let reader = env_var("DATACYCLE_TEST_MYSQL_URL");
        let (server, _) = reader.rsplit_once('/').unwrap();
        Self {
            admin: format!("{admin}/{name}"),
            url: format!("{server}/{name}"),
        }
    }

    async fn exec(&self, statements: &[&str]) {
        let mut conn = mysql_async::Conn::from_url(self.admin.as_str())
            .await
            .unwrap();
        for sql in statements {
            conn.query_drop(*sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        conn.disconnect().await.unwrap();
    }
}

fn json_run(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let output = env.run(args);
    serde_json::from_slice(&output.stdout).expect("a JSON summary")
}

fn notes(step: &serde_json::Value) -> String {
    step["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn reference_digests(all: BTreeMap<String, TableDigest>) -> BTreeMap<String, TableDigest> {
    all.into_iter()
        .filter(|(name, _)| name.starts_with("bronze.ref_") || name.starts_with("silver."))
        .collect()
}

/// The severity rule of SPEC §5, written independently of the SQL.
fn expected_severity(message: &str) -> &'static str {
    let lower = message.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if any(&["fatal", "crash", "down", "offline"]) {
        "high"
    } else if any(&["fail", "error", "exception", "null"]) {
        "medium"
    } else {
        "low"
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_from_mariadb_equals_the_seed_without_personal_data() {
    let house_map = seed_house_map();
    // The restricted user: a query on any table but the ten would fail the run.
    let server = TestEnv::new()
        .var("MYSQL_URL", &env_var("DATACYCLE_TEST_MYSQL_URL"))
        .var("HOUSE_MAP", &house_map);
    let summary = json_run(&server, &["ingest", "reference", "--format", "json"]);
    let snapshot = summary_step(&summary, "ingest reference");
    assert_eq!(snapshot["warnings"], 0, "{snapshot}");
    assert_eq!(snapshot["counters"]["tables_written"], 10, "{snapshot}");
    let silver = summary_step(&summary, "silver reference");
    assert_eq!(silver["warnings"], 0, "{silver}");
    assert_eq!(silver["counters"]["tables_written"], 11, "{silver}");

    for table in TABLES {
        let rows = server
            .count(&format!("SELECT count(*) FROM bronze.ref_{table}"))
            .await;
        assert_eq!(rows as usize, seed_rows(table), "bronze.ref_{table}");
    }
    // The same seed from its CSV export gives the same content, table by table.
    let folder = TestEnv::new()
        .with_reference(&seed_dir().to_string_lossy())
        .var("HOUSE_MAP", &house_map);
    folder.run(&["ingest", "reference"]);
    let from_server = reference_digests(server.digests().await);
    assert_eq!(from_server.len(), 21, "{from_server:?}");
    assert_eq!(from_server, reference_digests(folder.digests().await));

    assert_no_personal_data_in_the_lake(&server).await;
    assert_sensor_errors_follow_the_rules(&server).await;
}

/// The fields of a `query_csv` answer, header excluded.
fn csv_fields(text: &str) -> Vec<String> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// The values of some columns of the seed's `buildings` (as generated, personal data included).
fn seed_buildings(columns: &[&str]) -> Vec<String> {
    let mut reader = csv::Reader::from_path(seed_dir().join("buildings.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let positions: Vec<usize> = columns
        .iter()
        .map(|c| header.iter().position(|h| h == *c).unwrap())
        .collect();
    reader
        .records()
        .flat_map(|r| {
            let r = r.unwrap();
            positions
                .iter()
                .map(|&i| r[i].trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// GDPR minimisation at the source: `bronze.ref_buildings` has exactly the imported columns, no
/// personal column is anywhere in the lake, no personal value in any reference snapshot or
/// silver table, and silver keeps no house name (the residents' names).
async fn assert_no_personal_data_in_the_lake(env: &TestEnv) {
    use datacycle::catalog::tables::BUILDINGS_COLUMNS;
    let snapshot_columns: Vec<String> = csv_fields(
        &env.query_csv(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = 'bronze' AND table_name = 'ref_buildings'",
        )
        .await,
    );
    let mut expected: Vec<String> = BUILDINGS_COLUMNS.iter().map(|c| c.to_string()).collect();
    expected.push("snapshot_at".into());
    assert_eq!(snapshot_columns, expected);

    let columns = env
        .query_csv(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns \
             WHERE table_schema IN ('bronze', 'silver', 'gold')",
        )
        .await
        .to_lowercase();
    let personal_columns = [
        "firstname",
        "first_name",
        "lastname",
        "last_name",
        "address",
        "phonenumber",
        "phone_number",
        "phone",
        "iduser",
        "id_user",
        "user_id",
        "latitude",
        "longitude",
        "house_name",
        "housename",
    ];
    for line in columns.lines() {
        let column = line.rsplit(',').next().unwrap();
        // houseName matches a building to its apartment; it stays in the snapshot only.
        if line == "bronze,ref_buildings,housename" {
            continue;
        }
        assert!(
            !personal_columns.contains(&column),
            "the lake has a personal column: {line}"
        );
    }

    let personal = seed_buildings(&[
        "firstName",
        "lastName",
        "address",
        "phoneNumber",
        "latitude",
        "longitude",
    ]);
    let house_names = seed_buildings(&["houseName"]);
    assert!(
        personal.len() >= 12 && !house_names.is_empty(),
        "{personal:?}"
    );
    let session = env.session().await;
    for table in session.lake().list_tables().await.unwrap() {
        let name = table.to_string();
        let silver = name.starts_with("silver.");
        if !silver && !name.starts_with("bronze.ref_") {
            continue;
        }
        let fields = csv_fields(&env.query_csv(&format!("SELECT * FROM {name}")).await);
        for field in fields {
            let field = field.trim();
            assert!(
                !personal.iter().any(|p| p == field),
                "{name} holds the personal value {field}"
            );
            assert!(
                !silver || !house_names.iter().any(|h| h.eq_ignore_ascii_case(field)),
                "{name} holds the house name {field}"
            );
        }
    }
}

/// A lake of an earlier version holds `buildings` with every column: the next snapshot replaces
/// it by the imported columns alone, reported as a change of columns (the earlier Delta version
/// keeps them until vacuum, docs/lake-schema.md).
#[tokio::test(flavor = "multi_thread")]
async fn an_earlier_snapshot_with_personal_columns_is_replaced() {
    use datacycle::catalog::tables::reference_snapshot;
    use datacycle::lake::{Lake, TableWrite, WriteInput, WriteMode};
    use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};

    let env = TestEnv::new()
        .var("MYSQL_URL", &env_var("DATACYCLE_TEST_MYSQL_URL"))
        .var("HOUSE_MAP", &seed_house_map());
    let mut reader = csv::Reader::from_path(seed_dir().join("buildings.csv")).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let mut columns: Vec<(String, ArrayRef)> = header
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let values = StringArray::from_iter(records.iter().map(|r| Some(r[i].to_string())));
            (name.clone(), std::sync::Arc::new(values) as ArrayRef)
        })
        .collect();
    columns.push((
        "snapshot_at".into(),
        std::sync::Arc::new(
            TimestampMicrosecondArray::from(vec![0; records.len()]).with_timezone("UTC"),
        ),
    ));
    Lake::open(&env.lake.to_string_lossy())
        .unwrap()
        .write(TableWrite {
            table: &reference_snapshot("buildings"),
            partition_columns: &[],
            input: WriteInput::Batches(vec![RecordBatch::try_from_iter(columns).unwrap()]),
            mode: WriteMode::Overwrite,
            app_transaction: None,
            without_statistics: &[],
        })
        .await
        .unwrap();

    let summary = json_run(&env, &["ingest", "reference", "--format", "json"]);
    let text = notes(&summary_step(&summary, "ingest reference"));
    assert!(
        text.contains(
            "table `buildings` changed its columns (added: none; removed: idUser, firstName, \
             lastName, latitude, longitude, address, phoneNumber)"
        ),
        "{text}"
    );
    assert_no_personal_data_in_the_lake(&env).await;
}

async fn assert_sensor_errors_follow_the_rules(env: &TestEnv) {
    let rows = env
        .query_csv(
            "SELECT error_id, apartment, ts, severity, message FROM silver.sensor_errors ORDER BY error_id",
        )
        .await;
    let mut count = 0;
    for line in rows.lines().skip(1) {
        let fields: Vec<&str> = line.splitn(5, ',').collect();
        let [id, apartment, ts, severity, message] = fields[..] else {
            panic!("{line}")
        };
        assert!(!apartment.is_empty() && !ts.is_empty(), "{line}");
        assert_eq!(
            severity,
            expected_severity(message),
            "error {id}: {message}"
        );
        count += 1;
    }
    assert_eq!(count, seed_rows("dierrors"));
    let severities = env
        .count("SELECT count(DISTINCT severity) FROM silver.sensor_errors")
        .await;
    assert_eq!(severities, 3, "the seed has messages of every severity");
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_missing_renamed_null_binary_and_long_values() {
    let db = ScratchDb::new().await;
    let env = TestEnv::new()
        .var("MYSQL_URL", &db.url)
        .var("HOUSE_MAP", &seed_house_map());
    env.run(&["ingest", "reference"]);
    let before = env.digests().await;

    db.exec(&[
        "TRUNCATE TABLE parameters",
        "DROP TABLE profile",
        // Column case drifts between installs: silver matches names ignoring case.
        "ALTER TABLE dierrors CHANGE creationDate CreationDate DATETIME",
        "ALTER TABLE dierrors MODIFY errorMessage MEDIUMTEXT",
        "UPDATE dierrors SET errorMessage = CONCAT(REPEAT('x', 200000), ' then a crash') WHERE idError = 1",
        // A renamed column silver needs: the snapshot follows, silver.dim_rooms keeps its rows.
        "ALTER TABLE rooms CHANGE nbSensors sensorCount INT",
        "ALTER TABLE devices ADD COLUMN label VARBINARY(20)",
        "UPDATE devices SET label = 0xFF41 WHERE idDevice = 1",
        "UPDATE buildings SET city = NULL WHERE idBuilding = 1",
    ])
    .await;
    let summary = json_run(&env, &["ingest", "reference", "--format", "json"]);
    let snapshot = summary_step(&summary, "ingest reference");
    let counters = &snapshot["counters"];
    assert_eq!(counters["empty_tables"], 1, "{snapshot}");
    assert_eq!(counters["missing_tables"], 1, "{snapshot}");
    assert_eq!(counters["changed_columns"], 3, "{snapshot}");
    assert_eq!(counters["non_utf8_values"], 1, "{snapshot}");
    let text = notes(&snapshot);
    for expected in [
        "table `parameters` is empty; the previous snapshot is kept",
        "table `profile` is missing",
        "table `rooms` changed its columns (added: sensorCount; removed: nbSensors)",
        "table `devices` changed its columns (added: label; removed: none)",
        "table `devices`: 1 value(s) were not UTF-8",
    ] {
        assert!(text.contains(expected), "no note `{expected}` in:\n{text}");
    }
    let silver = summary_step(&summary, "silver reference");
    assert_eq!(silver["counters"]["failed_tables"], 1, "{silver}");
    let text = notes(&silver);
    assert!(
        text.contains("silver.dim_rooms")
            && text.contains("nbsensors")
            && text.contains("the previous table is kept"),
        "{text}"
    );

    let after = env.digests().await;
    for kept in [
        "bronze.ref_parameters",
        "bronze.ref_profile",
        "silver.ref_power_snapshots",
        "silver.ref_parameters",
        "silver.dim_rooms",
    ] {
        assert_eq!(
            after[kept], before[kept],
            "{kept} must keep its previous content"
        );
    }
    assert_eq!(
        after["bronze.ref_parameters"].rows as usize,
        seed_rows("parameters")
    );
    assert_eq!(
        env.count("SELECT count(\"sensorCount\") FROM bronze.ref_rooms")
            .await as usize,
        seed_rows("rooms")
    );
    assert_eq!(
        env.query_csv("SELECT label FROM bronze.ref_devices WHERE \"idDevice\" = '1'")
            .await,
        "label\n\u{fffd}A\n"
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM bronze.ref_buildings WHERE \"idBuilding\" = '1' AND city IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        env.count("SELECT count(*) FROM silver.dim_buildings WHERE city IS NULL")
            .await,
        1
    );
    assert_eq!(
        env.query_csv(
            "SELECT length(message) AS length, severity FROM silver.sensor_errors WHERE error_id = 1"
        )
        .await,
        "length,severity\n200013,high\n"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM silver.sensor_errors WHERE ts IS NULL")
            .await,
        0,
        "CreationDate is creationDate"
    );

    // Nothing changed at the source: nothing is written, the same problems are reported.
    let again = json_run(&env, &["ingest", "reference", "--format", "json"]);
    let snapshot = summary_step(&again, "ingest reference");
    assert!(
        snapshot["counters"].get("tables_written").is_none(),
        "{snapshot}"
    );
    assert_eq!(snapshot["counters"]["unchanged_tables"], 8, "{snapshot}");
    let silver = summary_step(&again, "silver reference");
    assert_eq!(silver["counters"]["unchanged_tables"], 10, "{silver}");
    assert_eq!(env.digests().await, after);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_or_wrong_password_fails_clearly_and_leaves_the_lake() {
    let env = TestEnv::new().with_reference(&seed_dir().to_string_lossy());
    env.run(&["ingest", "reference"]);
    let before = env.digests().await;

    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let reader = env_var("DATACYCLE_TEST_MYSQL_URL");
    let server = reader.split('@').nth(1).unwrap();
    let cases = [
        (
            format!("mysql://datacycle_reader:Sup3r-Secret@127.0.0.1:{closed_port}/pidb"),
            format!("127.0.0.1:{closed_port}"),
        ),
        (
            format!("mysql://datacycle_reader:Sup3r-Secret@{server}"),
            server.split('/').next().unwrap().to_string(),
        ),
    ];
    for (url, address) in cases {
        let output = env
            .command()
            .env_remove("REFERENCE_SOURCE")
            .env("MYSQL_URL", &url)
            .args(["ingest", "reference"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("MySQL server {address}")),
            "{stderr}"
        );
        assert!(
            !stderr.contains("Sup3r-Secret"),
            "the password leaked: {stderr}"
        );
        assert!(!String::from_utf8_lossy(&output.stdout).contains("Sup3r-Secret"));
        assert_eq!(
            env.digests().await,
            before,
            "a failed snapshot changed the lake"
        );
    }
}
