//! `datacycle status` and `_ops.runs`: every lake command records its steps, and status grades
//! the freshness of sources and layers (exit code 0 ok, 1 warn, 2 fail) in a documented JSON
//! shape.

use serde_json::Value;

use crate::common::{TestEnv, generate, temp_dir};

/// `status --format json` at `now`: (exit code, document).
fn status_at(env: &TestEnv, now: &str) -> (i32, Value) {
    let output = env
        .command()
        .env("DATACYCLE_NOW", now)
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "status printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap(), document)
}

fn level_of<'a>(document: &'a Value, item: &str) -> &'a str {
    document["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["item"] == item)
        .unwrap_or_else(|| panic!("no check {item} in {document}"))["level"]
        .as_str()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_grades_freshness_and_runs_are_recorded() {
    let sources = temp_dir();
    // 2023-08-18 and 19: the newest minute is just before 2023-08-20T00:00Z.
    let generated = generate(sources.path(), 2, 2);
    let env = TestEnv::new().with_sources(&generated);
    env.run(&["rebuild"]);
    let recorded = env
        .count("SELECT count(*) FROM _ops.runs WHERE command = 'rebuild' AND outcome <> 'failed'")
        .await;
    assert!(recorded >= 5, "rebuild recorded {recorded} steps");

    let (code, fresh) = status_at(&env, "2023-08-20T00:05:00Z");
    assert_eq!(code, 0, "{fresh:#}");
    assert_eq!(fresh["level"], "ok");
    for key in [
        "checked_at",
        "checks",
        "tables",
        "last_runs",
        "lease",
        "lake_bytes",
    ] {
        assert!(fresh.get(key).is_some(), "no `{key}` in {fresh:#}");
    }
    for item in [
        "sensors jimmy",
        "sensors jeremie",
        "weather",
        "silver.sensor_events",
        "gold.fact_energy_minute",
    ] {
        assert_eq!(level_of(&fresh, item), "ok", "{item}: {fresh:#}");
    }
    let events = fresh["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "silver.sensor_events")
        .unwrap();
    assert!(events["rows"].as_i64().unwrap() > 10_000, "{events}");
    assert!(events["files"].as_u64().unwrap() >= 1 && events["log_files"].as_u64().unwrap() >= 1);
    assert!(fresh["lake_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(
        fresh["last_runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["command"] == "rebuild" && r["outcome"] != "failed"),
        "{fresh:#}"
    );

    // Half an hour without files: a warning; three hours: a failure.
    let (code, late) = status_at(&env, "2023-08-20T00:30:00Z");
    assert_eq!((code, level_of(&late, "sensors jimmy")), (1, "warn"));
    let (code, stale) = status_at(&env, "2023-08-20T03:00:00Z");
    assert_eq!((code, level_of(&stale, "sensors jimmy")), (2, "fail"));
    assert_eq!(stale["level"], "fail");

    // A command that fails is recorded with its error, and status warns about it.
    let failed = env.command().args(["ml", "predict"]).output().unwrap();
    assert!(!failed.status.success());
    assert_eq!(
        env.count("SELECT count(*) FROM _ops.runs WHERE command = 'ml predict' AND outcome = 'failed' AND error LIKE '%ml benchmark%'")
            .await,
        1
    );
    let (code, warned) = status_at(&env, "2023-08-20T00:05:00Z");
    assert_eq!(
        (code, level_of(&warned, "run ml predict: ml predict")),
        (1, "warn")
    );
}

#[test]
fn status_of_an_empty_lake_fails() {
    let env = TestEnv::new();
    let (code, document) = status_at(&env, "2023-08-20T00:00:00Z");
    assert_eq!(code, 2, "{document:#}");
    assert_eq!(level_of(&document, "sensors"), "fail");
}
