//! The lake on S3: the same pipeline against a real S3-compatible server (moto, started by
//! scripts/test.sh) gives exactly the tables of a local lake, and the writer lease works there.

use crate::common::{TestEnv, copy_files, fixtures};

/// `s3://bucket` of the test server, with its settings; scripts/test.sh provides them.
pub fn s3_env(env: TestEnv) -> TestEnv {
    let endpoint = std::env::var("DATACYCLE_TEST_S3_ENDPOINT")
        .expect("DATACYCLE_TEST_S3_ENDPOINT is not set: run the tests with scripts/test.sh, which starts the S3 server");
    let bucket =
        std::env::var("DATACYCLE_TEST_S3_BUCKET").unwrap_or_else(|_| "datacycle-test".into());
    let prefix = uuid::Uuid::new_v4().simple().to_string();
    env.var("AWS_ENDPOINT_URL", &endpoint)
        .var("AWS_ACCESS_KEY_ID", "datacycle")
        .var("AWS_SECRET_ACCESS_KEY", "s3-test-secret-key")
        .var("AWS_REGION", "us-east-1")
        .var("AWS_ALLOW_HTTP", "true")
        .var("LAKE_URL", &format!("s3://{bucket}/{prefix}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_lake_equals_a_local_lake() {
    let local = TestEnv::new();
    copy_files(&fixtures("sensors/utc"), &local.share);
    local.run(&["rebuild"]);

    let s3 = s3_env(local.sibling());
    let output = s3.run(&["rebuild"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("s3-test-secret-key"),
        "the secret key leaked: {stderr}"
    );
    s3.run(&["rebuild"]);

    // Compare through the binary: both lakes answer the same query with the same rows.
    let query = "SELECT apartment, room, sensor_type, field, value, unit, ts, is_outlier, source_file \
                 FROM silver.sensor_events ORDER BY apartment, room, sensor_type, field, ts";
    let rows = |env: &TestEnv| {
        String::from_utf8(env.run(&["sql", "-c", query, "--format", "csv"]).stdout).unwrap()
    };
    let expected = rows(&local);
    assert!(expected.lines().count() > 50);
    assert_eq!(rows(&s3), expected);
    let files =
        "SELECT source_file, status, size, rows FROM bronze.sensor_files ORDER BY source_file";
    let files_of = |env: &TestEnv| {
        String::from_utf8(env.run(&["sql", "-c", files, "--format", "csv"]).stdout).unwrap()
    };
    assert_eq!(files_of(&s3), files_of(&local));
}

#[test]
fn an_s3_lake_without_credentials_says_what_is_missing_before_any_request() {
    let env = TestEnv::new();
    let endpoint = crate::common::env_var("DATACYCLE_TEST_S3_ENDPOINT");
    let mut command = env.command();
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    let out = command
        .env("LAKE_URL", "s3://datacycle-test/no-credentials")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .args(["build"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no S3 credentials")
            && stderr.contains("AWS_ACCESS_KEY_ID")
            && stderr.contains("AWS_SKIP_SIGNATURE"),
        "{stderr}"
    );
    assert!(!stderr.contains("169.254"), "{stderr}");
    let half = env
        .command()
        .env("LAKE_URL", "s3://datacycle-test/no-credentials")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "datacycle")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["build"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&half.stderr).contains("AWS_SECRET_ACCESS_KEY is not"),
        "{}",
        String::from_utf8_lossy(&half.stderr)
    );
}

#[test]
fn status_compact_and_vacuum_work_on_an_s3_lake() {
    let s3 = s3_env(TestEnv::new());
    copy_files(&fixtures("sensors/utc"), &s3.share);
    s3.run(&["rebuild"]);
    s3.run(&["rebuild"]);
    let query = "SELECT apartment, room, sensor_type, field, value, ts FROM silver.sensor_events \
                 ORDER BY apartment, room, sensor_type, field, ts";
    let rows =
        || String::from_utf8(s3.run(&["sql", "-c", query, "--format", "csv"]).stdout).unwrap();
    let before = rows();
    assert!(before.lines().count() > 50);

    s3.run(&["compact"]);
    s3.run(&["vacuum", "--retain-hours", "0", "--yes"]);
    assert_eq!(rows(), before, "maintenance changed rows on S3");

    let output = s3
        .command()
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    assert!(matches!(output.status.code(), Some(0..=2)), "{output:?}");
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let events = status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "silver.sensor_events")
        .expect("silver.sensor_events in the status");
    assert!(events["last_checkpoint"].as_u64().is_some(), "{events}");
    let recorded = s3.run(&[
        "sql",
        "-c",
        "SELECT count(DISTINCT run_id) FROM _ops.runs WHERE command IN ('rebuild', 'compact', 'vacuum')",
        "--format",
        "csv",
    ]);
    let recorded = String::from_utf8(recorded.stdout).unwrap();
    assert_eq!(recorded.lines().nth(1), Some("4"), "{recorded}");
}

#[test]
fn watch_runs_its_windows_on_an_s3_lake() {
    let s3 = s3_env(TestEnv::new());
    copy_files(&fixtures("sensors/utc"), &s3.share);
    // 01:00–03:00 Zurich: half-hourly ticks, the nightly maintenance at start and at 02:00.
    let output = s3.run(&[
        "watch",
        "--simulate-from",
        "2023-08-18T23:00:00Z",
        "--until",
        "2023-08-19T01:00:00Z",
        "--tick-seconds",
        "1800",
        "--vacuum-retain-hours",
        "0",
        "--format",
        "json",
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["windows"]["tick"]["runs"], 5, "{summary}");
    assert_eq!(summary["windows"]["maintenance"]["runs"], 2, "{summary}");
    for (window, tally) in summary["windows"].as_object().unwrap() {
        assert_eq!(tally["failed"], 0, "{window} failed on S3: {summary}");
    }
    let sql = |query: &str| {
        let out = s3.run(&["sql", "-c", query, "--format", "csv"]);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    let rows: u64 = sql("SELECT count(*) FROM silver.sensor_events")
        .parse()
        .unwrap();
    assert!(rows > 50, "{rows}");
    let compacted: u64 = sql(
        "SELECT count(*) FROM _ops.runs WHERE command = 'watch maintenance' \
         AND step LIKE 'compact %' AND outcome = 'ok'",
    )
    .parse()
    .unwrap();
    assert!(compacted > 0, "nightly maintenance compacted nothing");
}
