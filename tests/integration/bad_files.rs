//! Bad sensor files are quarantined with a clear reason, counted, kept, and never block the
//! good ones; a quarantined file is retried only when its size changes.

use crate::common::{TestEnv, copy_files, fixtures, summary_step};

const BAD: &[(&str, &str, &str)] = &[
    (
        "18.08.2023 1100_JimmyLoup_received.json",
        r#"{"plugs": {"Office": {"power": 1"#,
        "truncated JSON",
    ),
    ("18.08.2023 1101_JimmyLoup_received.json", "", "empty file"),
    (
        "18.08.2023 1102_JimmyLoup_received.json",
        "<html>502 Bad Gateway</html>",
        "invalid JSON",
    ),
    (
        "18.08.2023 1103_JimmyLoup_received.json",
        "[1, 2, 3]",
        "top level",
    ),
    (
        "18.08.2023 1104_JimmyLoup_received.json",
        r#"{"plugs": "broken"}"#,
        "category `plugs`",
    ),
    (
        "18.08.2023 1105_JimmyLoup_received.json",
        r#"{"motions": {"Office": true}}"#,
        "`motions.Office`",
    ),
    (
        "18.08.2023 1106_JimmyLoup_received.json",
        r#"{"datetime": 202308181106}"#,
        "`datetime`",
    ),
    // PostgreSQL text cannot hold a NUL: caught here, not when gold is published.
    (
        "18.08.2023 1108_JimmyLoup_received.json",
        r#"{"plugs": {"Office": {"type": "a\u0000b"}}}"#,
        "NUL character",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn bad_files_are_quarantined_counted_and_kept() {
    let env = TestEnv::new();
    copy_files(&fixtures("sensors/utc"), &env.share);
    for (name, body, _) in BAD {
        std::fs::write(env.share.join(name), body).unwrap();
    }
    std::fs::write(env.share.join("18.08.2023 1107_Nobody_received.json"), "{}").unwrap();
    std::fs::write(env.share.join("desktop.ini"), "[x]").unwrap();

    let output = env.run(&["rebuild", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let step = |name: &str| summary_step(&summary, name);
    assert_eq!(step("bronze sensors")["counters"]["quarantined"], BAD.len());
    assert_eq!(step("ingest sensors")["counters"]["unknown_house"], 1);
    assert_eq!(step("ingest sensors")["counters"]["unrecognised_name"], 1);

    for (name, _, reason) in BAD {
        let sql = format!(
            "SELECT count(*) FROM bronze.sensor_files WHERE source_file = '{name}' \
             AND status = 'quarantined' AND error LIKE '%{}%'",
            reason.replace('\'', "''")
        );
        assert_eq!(
            env.count(&sql).await,
            1,
            "{name} should be quarantined for `{reason}`"
        );
    }
    // Every good file went through: silver is exactly what the good files alone give.
    assert_eq!(
        env.count("SELECT count(*) FROM bronze.sensor_files WHERE status = 'ok'")
            .await,
        7
    );
    let expected = std::fs::read_to_string(fixtures("sensors/utc.expected.csv")).unwrap();
    assert_eq!(
        env.count("SELECT count(*) FROM silver.sensor_events").await,
        expected.lines().count() as i64 - 1
    );

    // Unchanged quarantined files are not retried; a repaired one is, and replaces its row.
    std::fs::write(
        env.share.join(BAD[0].0),
        r#"{"plugs": {"Office": {"power": 1.5}}}"#,
    )
    .unwrap();
    let output = env.run(&["rebuild", "--full", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let bronze = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "bronze sensors")
        .unwrap()
        .clone();
    assert_eq!(bronze["counters"]["retried"], 1);
    assert_eq!(bronze["files"], 1);
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM bronze.sensor_files WHERE source_file = '{}'",
            BAD[0].0
        ))
        .await,
        1
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM silver.sensor_events WHERE source_file = '{}' AND value = 1.5",
            BAD[0].0
        ))
        .await,
        1
    );
}
