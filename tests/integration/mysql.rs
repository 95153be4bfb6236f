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
async fn snapshot_from_mariadb_equals_the_seed_without_personal_data_in_silver() {
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

    assert_no_personal_data_in_silver(&server).await;
    assert_sensor_errors_follow_the_rules(&server).await;
}

/// No personal column of `buildings` and none of its personal values reach silver.
async fn assert_no_personal_data_in_silver(env: &TestEnv) {
    let columns = env
        .query_csv(
            "SELECT table_name, column_name FROM information_schema.columns \
             WHERE table_schema = 'silver'",
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
    ];
    for line in columns.lines() {
        let column = line.rsplit(',').next().unwrap();
        assert!(
            !personal_columns.contains(&column),
            "silver has a personal column: {line}"
        );
    }
    let personal_values = env
        .query_csv(
            "SELECT \"firstName\", \"lastName\", address, \"phoneNumber\", latitude, longitude \
             FROM bronze.ref_buildings",
        )
        .await;
    let personal: Vec<String> = personal_values
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect();
    assert!(personal.len() >= 12, "{personal_values}");
    let session = env.session().await;
    for table in session.lake().list_tables().await.unwrap() {
        if table.to_string().starts_with("silver.") {
            let text = env.query_csv(&format!("SELECT * FROM {table}")).await;
            for field in text.lines().flat_map(|l| l.split(',')) {
                assert!(
                    !personal.iter().any(|p| p == field),
                    "{table} holds the personal value {field}"
                );
            }
        }
    }
    assert_eq!(
        env.count(
            "SELECT count(*) FROM silver.dim_buildings \
             WHERE latitude <> round(latitude, 2) OR longitude <> round(longitude, 2)"
        )
        .await,
        0
    );
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
