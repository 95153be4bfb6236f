//! Hardening: no secret in `--help` or in an error about a malformed URL, secrets in sensor
//! JSON never reach bronze, whatever their depth.

use crate::common::{TestEnv, copy_files, fixtures, summary_step, walk};

/// Secret-bearing settings and the secret each holds.
const SECRETS: &[(&str, &str, &str)] = &[
    (
        "WEATHER_SOURCE",
        "sftp://meteo:pw-W3ath3r@sftp.example.org/Meteo2",
        "pw-W3ath3r",
    ),
    ("SFTP_PASSWORD", "sftp-S3cr3t", "sftp-S3cr3t"),
    (
        "MYSQL_URL",
        "mysql://reader:my-S3cr3t@db.example.org/pidb",
        "my-S3cr3t",
    ),
    (
        "REFERENCE_SOURCE",
        "mysql://reader:ref-S3cr3t@db.example.org/pidb",
        "ref-S3cr3t",
    ),
    (
        "DB_URL",
        "postgresql://app:pg-S3cr3t@db.example.org/gold",
        "pg-S3cr3t",
    ),
    (
        "DB_ADMIN_URL",
        "postgresql://postgres:adm-S3cr3t@db.example.org/postgres",
        "adm-S3cr3t",
    ),
    (
        "LAKE_URL",
        "s3://key:lake-S3cr3t@bucket/prefix",
        "lake-S3cr3t",
    ),
    ("SMB_PATH", "/mnt/user:smb-S3cr3t@share", "smb-S3cr3t"),
    ("SFTP_KEY_FILE", "/keys/key-S3cr3t", "key-S3cr3t"),
];

const COMMANDS: &[&[&str]] = &[
    &[],
    &["generate"],
    &["ingest"],
    &["ingest", "sensors"],
    &["ingest", "weather"],
    &["ingest", "reference"],
    &["build"],
    &["rebuild"],
    &["sql"],
    &["demo"],
    &["pg"],
    &["pg", "init"],
    &["publish"],
];

#[test]
fn help_of_every_command_shows_no_secret_from_the_environment_or_the_env_file() {
    let env = TestEnv::new();
    let env_file = env.dir.path().join("secrets.env");
    let lines: Vec<String> = SECRETS.iter().map(|(k, v, _)| format!("{k}={v}")).collect();
    std::fs::write(&env_file, lines.join("\n")).unwrap();
    for from_file in [false, true] {
        for command in COMMANDS {
            let mut run = env.command();
            run.args(*command).arg("--help");
            for (key, value, _) in SECRETS {
                run.env_remove(key);
                if !from_file {
                    run.env(key, value);
                }
            }
            if from_file {
                run.env("ENV_FILE", &env_file);
            }
            let out = run.output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{command:?} --help: {text}");
            assert!(text.contains("Usage"), "{command:?} --help: {text}");
            for (key, _, secret) in SECRETS {
                assert!(
                    !text.contains(secret),
                    "`{} --help` shows {key} (env file: {from_file}):\n{text}",
                    command.join(" ")
                );
            }
        }
    }
}

#[test]
fn a_url_no_parser_accepts_never_shows_its_password() {
    let env = TestEnv::new();
    for (variable, url, secret) in [
        ("DB_URL", "postgresql://app:pa/ss@db/x", "pa/ss"),
        (
            "DB_URL",
            "host=db user=app password=Kw9-zz dbname=gold",
            "Kw9-zz",
        ),
        ("MYSQL_URL", "mysql://reader:pa/ss@db:3306/pidb", "pa/ss"),
        (
            "WEATHER_SOURCE",
            "sftp://meteo:pa/ss@host:22/Meteo2",
            "pa/ss",
        ),
    ] {
        let command = if variable == "DB_URL" {
            vec!["publish"]
        } else if variable == "MYSQL_URL" {
            vec!["ingest", "reference"]
        } else {
            vec!["ingest", "weather"]
        };
        for log_format in ["text", "json"] {
            let out = env
                .command()
                .args(&command)
                .env(variable, url)
                .env("LOG_FORMAT", log_format)
                .env("LOG_LEVEL", "debug")
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.status.success(), "{variable}={url}: {text}");
            assert!(!text.contains(secret), "{variable}={url} shows it:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_keys_at_any_depth_never_reach_bronze() {
    let env = TestEnv::new();
    copy_files(&fixtures("sensors/utc"), &env.share);
    std::fs::write(
        env.share.join("18.08.2023 1010_JimmyLoup_received.json"),
        r#"{"user":"JimmyLoup","api_token":"tok-top-S3cr3t","datetime":"18.08.2023 10:10",
            "plugs":{"Office":{"power":5,"apiKey":"tok-deep-S3cr3t","auth":{"Password":"pw-S3cr3t"}}},
            "gateway":{"session_token":"tok-gw-S3cr3t","firmware":"1.2"}}"#,
    )
    .unwrap();
    let out = env.run(&["rebuild", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bronze = summary_step(&summary, "bronze sensors");
    // One top-level api_token per fixture file, and three nested secrets in the new file.
    let files = std::fs::read_dir(&env.share).unwrap().count() as u64;
    assert_eq!(
        bronze["counters"]["secret_keys_dropped"].as_u64(),
        Some(files + 3),
        "{bronze}"
    );
    let leaked = env
        .count(
            "SELECT count(*) FROM bronze.sensor_readings WHERE value_text LIKE '%S3cr3t%' \
             OR value_text LIKE 'tok-%' OR lower(key) LIKE '%token%' OR lower(key) LIKE '%password%' \
             OR lower(key) LIKE '%apikey%'",
        )
        .await;
    assert_eq!(leaked, 0);
    let kept = env
        .count("SELECT count(*) FROM bronze.sensor_readings WHERE key = 'firmware'")
        .await;
    assert_eq!(kept, 1);
    for entry in walk(&env.lake.join("bronze")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(6).any(|w| w == b"S3cr3t"),
            "{} holds a secret",
            entry.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sources_that_are_down_fail_on_their_own_and_the_rest_is_built() {
    let env = TestEnv::new()
        .var("WEATHER_SOURCE", "sftp://meteo@127.0.0.1:1/Meteo2")
        .var("SFTP_PASSWORD", "pw-Unused-9")
        .var("SOURCE_RETRY_BUDGET_SECS", "0")
        .var("MYSQL_URL", "mysql://reader:pw-My-7@127.0.0.1:1/pidb")
        .var("DB_URL", "postgresql://app:pw-Pg-5@127.0.0.1:1/gold");
    copy_files(&fixtures("sensors/utc"), &env.share);
    let out = env
        .command()
        .args(["rebuild", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for step in ["ingest weather", "ingest reference", "publish"] {
        let error = summary_step(&summary, step)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(error.contains("127.0.0.1:1"), "{step}: {error}");
    }
    for step in ["ingest sensors", "bronze sensors"] {
        assert!(summary_step(&summary, step)["error"].is_null(), "{summary}");
    }
    assert!(stderr.contains("failed"), "{stderr}");
    for secret in ["pw-Unused-9", "pw-My-7", "pw-Pg-5"] {
        assert!(!stderr.contains(secret) && !String::from_utf8_lossy(&out.stdout).contains(secret));
    }
    let events = env.count("SELECT count(*) FROM silver.sensor_events").await;
    assert!(events > 0, "the sensor path was not built");
}

#[test]
fn retries_within_one_run_stop_at_the_retry_budget() {
    let env = TestEnv::new()
        .var("WEATHER_SOURCE", "sftp://meteo@127.0.0.1:1/Meteo2")
        .var("SFTP_MAX_RETRIES", "10")
        .var("SFTP_RETRY_DELAY", "1")
        .var("SOURCE_RETRY_BUDGET_SECS", "3");
    let out = env.command().args(["ingest", "weather"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    // Waits of 1 s and 2 s use the 3 s budget; there is no third retry.
    assert!(stderr.contains("retry 2/10"), "{stderr}");
    assert!(!stderr.contains("retry 3/10"), "{stderr}");
    assert!(stderr.contains("SOURCE_RETRY_BUDGET_SECS"), "{stderr}");
}

/// Set the modification time of `path` to `seconds` ago.
fn age(path: &std::path::Path, seconds: u64) {
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(seconds);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

const FORECASTS: &str = "SELECT prediction_date, ts, site, measurement, prediction, value, unit \
                         FROM silver.weather_forecasts ORDER BY 1, 2, 3, 4, 5";

#[tokio::test(flavor = "multi_thread")]
async fn a_forecast_caught_mid_upload_waits_and_a_cut_upload_is_replaced_when_complete() {
    let env = TestEnv::new();
    let folder = env.dir.path().join("Meteo2");
    std::fs::create_dir_all(&folder).unwrap();
    let env = env
        .var("WEATHER_SOURCE", &folder.to_string_lossy())
        .var("WEATHER_MIN_AGE_SECS", "600");
    let full = std::fs::read_to_string(fixtures("weather/Pred_2023-10-03.csv")).unwrap();
    let file = folder.join("Pred_2023-10-03.csv");
    let cut: String = full.lines().take(5).map(|l| format!("{l}\n")).collect();

    // Being written: too young to land.
    std::fs::write(&file, &cut).unwrap();
    let ingest = |env: &TestEnv| {
        let out = env.run(&["ingest", "weather", "--format", "json"]);
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        summary_step(&summary, "ingest weather")
    };
    let step = ingest(&env);
    assert_eq!(
        (
            step["files"].as_u64(),
            step["counters"]["not_yet_stable"].as_u64()
        ),
        (Some(0), Some(1)),
        "{step}"
    );

    // The upload was cut short and the file looks stable: the cut version lands and is built.
    age(&file, 3600);
    assert_eq!(ingest(&env)["files"], 1);
    env.run(&["build"]);
    let cut_rows = env
        .count("SELECT count(*) FROM bronze.weather_rows WHERE source_file = 'Pred_2023-10-03.csv'")
        .await;
    assert_eq!(cut_rows, 4);

    // Uploaded again in full: landed again, its bronze rows replaced, silver as if it had
    // arrived whole.
    std::fs::write(&file, &full).unwrap();
    age(&file, 3600);
    let step = ingest(&env);
    assert_eq!(step["counters"]["changed_since_landed"], 1, "{step}");
    let out = env.run(&["build", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary_step(&summary, "bronze weather")["counters"]["replaced_changed_file"],
        1
    );
    let rows = env
        .count("SELECT count(*) FROM bronze.weather_rows WHERE source_file = 'Pred_2023-10-03.csv'")
        .await;
    assert_eq!(rows, full.lines().count() as i64 - 1);
    let size = env
        .count(
            "SELECT max(size) FROM bronze.weather_files WHERE source_file = 'Pred_2023-10-03.csv'",
        )
        .await;
    assert_eq!(size, full.len() as i64);
    // A file over MAX_SOURCE_FILE_MB is not downloaded: reported, left on the server.
    let huge = folder.join("Pred_2023-10-04.csv");
    std::fs::write(&huge, "x".repeat((1 << 20) + 1)).unwrap();
    age(&huge, 3600);
    let out = env
        .command()
        .args(["ingest", "weather", "--format", "json"])
        .env("MAX_SOURCE_FILE_MB", "1")
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = summary_step(&summary, "ingest weather");
    assert_eq!(
        (
            step["files"].as_u64(),
            step["counters"]["too_large"].as_u64()
        ),
        (Some(0), Some(1)),
        "{step}"
    );
    std::fs::remove_file(&huge).unwrap();
    let whole = env.sibling();
    whole.run(&["ingest", "weather"]);
    whole.run(&["build"]);
    assert_eq!(
        env.query_csv(FORECASTS).await,
        whole.query_csv(FORECASTS).await
    );
    let files = env.count("SELECT count(*) FROM bronze.weather_files").await;
    assert_eq!(files, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_undecodable_share_files_are_kept_counted_and_reported() {
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new().var("MAX_SOURCE_FILE_MB", "1");
    copy_files(&fixtures("sensors/utc"), &env.share);
    let big_name = "18.08.2023 1020_JimmyLoup_received.json";
    let big = format!(
        "{{\"plugs\":{{\"Office\":{{\"note\":\"{}\"}}}}}}",
        "x".repeat(3 << 20)
    );
    std::fs::write(env.share.join(big_name), &big).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"18.08.2023 1021_Jimmy\xffLoup_received.json");
    std::fs::write(env.share.join(odd), "{}").unwrap();

    let out = env.run(&["rebuild", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ingest = summary_step(&summary, "ingest sensors");
    assert_eq!(ingest["counters"]["undecodable_name"], 1, "{ingest}");
    assert!(
        ingest["notes"].to_string().contains("not UTF-8"),
        "{ingest}"
    );
    let error = env
        .query_csv(&format!(
            "SELECT status, error FROM bronze.sensor_files WHERE source_file = '{big_name}'"
        ))
        .await;
    assert!(
        error.contains("quarantined") && error.contains("MAX_SOURCE_FILE_MB"),
        "{error}"
    );
    // Kept byte for byte in landing (beside the table: too large for a row), and exported so.
    let landed: Vec<_> = walk(&env.lake.join("landing/sensors_large"))
        .into_iter()
        .filter(|p| p.ends_with(big_name))
        .collect();
    assert_eq!(landed.len(), 1);
    assert_eq!(std::fs::read(&landed[0]).unwrap(), big.as_bytes());
    let out = env.dir.path().join("export");
    env.run(&[
        "landing",
        "export",
        "--apartment",
        "jimmy",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(out.join(big_name)).unwrap(), big.as_bytes());
}

#[tokio::test(flavor = "multi_thread")]
async fn landed_files_reach_bronze_once_whatever_became_of_the_hand_over_mark() {
    let env = TestEnv::new();
    let fixtures = fixtures("sensors/utc");
    let late = "18.08.2023 1000_JimmyLoup_received.json";
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != late {
            std::fs::copy(entry.path(), env.share.join(entry.file_name())).unwrap();
        }
    }
    // Two landing batches before bronze runs: both are pending.
    env.run(&["ingest", "sensors"]);
    std::fs::copy(fixtures.join(late), env.share.join(late)).unwrap();
    env.run(&["ingest", "sensors", "--full"]);
    let landed = env.count("SELECT count(*) FROM landing.sensor_files").await;
    let out = env.run(&["build", "bronze", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary_step(&summary, "bronze sensors")["files"], landed);
    let expected = env.digests().await;

    // A run that died after its last commit but before saving the mark: the next run sees every
    // landed file again, finds each in bronze by name and size, and adds nothing.
    std::fs::remove_file(env.lake.join("_ops/state/bronze_sensor_landing.json")).unwrap();
    let out = env.run(&["build", "bronze", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bronze = summary_step(&summary, "bronze sensors");
    assert_eq!(bronze["files"], 0, "{bronze}");
    assert_eq!(bronze["counters"]["already_in_bronze"], landed, "{bronze}");
    assert_eq!(env.digests().await, expected);

    // With the mark saved, a routine run reads nothing.
    let out = env.run(&["build", "bronze", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bronze = summary_step(&summary, "bronze sensors");
    assert!(
        bronze["counters"].get("already_in_bronze").is_none(),
        "{bronze}"
    );
}
