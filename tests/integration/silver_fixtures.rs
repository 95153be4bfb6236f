//! Exact silver rows for hand-written sensor files, through the whole pipeline (share → landing
//! → bronze → silver). The expected CSVs were checked line by line against SPEC §5.

use crate::common::{TestEnv, assert_matches_file, copy_files, fixtures};

const SILVER_ROWS: &str = "SELECT apartment, room, sensor_type, field, value, unit, ts, is_outlier, source_file \
                           FROM silver.sensor_events ORDER BY apartment, room, sensor_type, field, ts";

#[tokio::test(flavor = "multi_thread")]
async fn fixture_files_give_exact_silver_rows() {
    let env = TestEnv::new();
    copy_files(&fixtures("sensors/utc"), &env.share);
    env.run(&["rebuild"]);

    assert_matches_file(
        &env.query_csv(SILVER_ROWS).await,
        &fixtures("sensors/utc.expected.csv"),
    );
    // Partitions follow the UTC date of ts: the jeremie file of 23:59 whose payload says 00:00
    // lands on the 19th.
    assert_eq!(
        env.count("SELECT count(*) FROM silver.sensor_events WHERE date <> CAST(ts AS DATE)")
            .await,
        0
    );
    // The API token and the user never leave landing.
    assert_eq!(
        env.count(
            "SELECT count(*) FROM bronze.sensor_readings \
             WHERE key IN ('api_token', 'user') OR value_text LIKE '%tok-fixture%'"
        )
        .await,
        0
    );
    assert_eq!(
        env.count("SELECT count(*) FROM bronze.sensor_files WHERE status = 'ok'")
            .await,
        7
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn zurich_wall_clock_times_convert_to_utc_across_dst() {
    let env = TestEnv::new().var("SENSOR_TIMEZONE", "Europe/Zurich");
    copy_files(&fixtures("sensors/zurich"), &env.share);
    env.run(&["rebuild"]);
    assert_matches_file(
        &env.query_csv("SELECT value, ts, date, source_file FROM silver.sensor_events ORDER BY ts")
            .await,
        &fixtures("sensors/zurich.expected.csv"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_files_give_the_same_silver_in_utc_twice() {
    // Determinism of duplicate resolution: two independent lakes agree byte for byte.
    let first = TestEnv::new();
    copy_files(&fixtures("sensors/utc"), &first.share);
    first.run(&["rebuild"]);
    let second = first.sibling();
    second.run(&["rebuild"]);
    assert_eq!(
        first.query_csv(SILVER_ROWS).await,
        second.query_csv(SILVER_ROWS).await
    );
}
