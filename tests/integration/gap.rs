//! Gap safety: prediction mode alone stops after 10 empty minutes, so a longer source gap would
//! stall ingestion forever (the original system's fatal bug). The idle listing scan crosses it.

use std::path::Path;

use chrono::{Duration, NaiveDateTime};
use datacycle::lake::landing::sensors::SensorFileName;

use crate::common::TestEnv;

fn write_minutes(share: &Path, house: &str, first: &str, minutes: i64) {
    let first = NaiveDateTime::parse_from_str(first, "%Y-%m-%d %H:%M").unwrap();
    for m in 0..minutes {
        let minute = first + Duration::minutes(m);
        let body = format!(
            r#"{{"datetime":"{}","plugs":{{"Office":{{"power":{m}}}}}}}"#,
            minute.format("%d.%m.%Y %H:%M")
        );
        std::fs::write(share.join(SensorFileName::format(minute, house)), body).unwrap();
    }
}

async fn landed(env: &TestEnv) -> i64 {
    env.count("SELECT count(*) FROM landing.sensor_files").await
}

/// Run `ingest sensors` with the scheduling clock at `minutes` after noon.
fn ingest_at(env: &TestEnv, minutes: i64) {
    let now = format!("2026-01-01T12:{minutes:02}:00Z");
    let output = env
        .command()
        .env("DATACYCLE_NOW", now)
        .args(["ingest", "sensors"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_40_minute_gap_is_crossed_without_full() {
    let env = TestEnv::new();
    write_minutes(&env.share, "JimmyLoup", "2023-08-18 10:00", 10);
    write_minutes(&env.share, "JeremieVianin", "2023-08-18 10:00", 10);
    ingest_at(&env, 0);
    assert_eq!(landed(&env).await, 20);

    // Jimmy's gateway comes back after 40 minutes of silence.
    write_minutes(&env.share, "JimmyLoup", "2023-08-18 10:50", 10);
    ingest_at(&env, 1);
    assert_eq!(
        landed(&env).await,
        20,
        "prediction cannot see past 10 empty minutes"
    );
    ingest_at(&env, 10);
    assert_eq!(landed(&env).await, 20, "no scan before 15 idle minutes");
    ingest_at(&env, 17);
    assert_eq!(
        landed(&env).await,
        30,
        "the idle scan lands the files after the gap"
    );

    // Prediction resumes from the new newest file.
    write_minutes(&env.share, "JimmyLoup", "2023-08-18 11:00", 5);
    ingest_at(&env, 18);
    assert_eq!(landed(&env).await, 35);

    env.run(&["build"]);
    assert_eq!(
        env.count("SELECT count(DISTINCT ts) FROM silver.sensor_events WHERE apartment = 'jimmy'")
            .await,
        25
    );
}
