//! Weather forecasts through the whole pipeline from a local folder: exact silver rows for
//! hand-written CSVs, per-file step counts, quarantined headers and skipped names. The expected
//! files were checked line by line against SPEC §5.

use crate::common::{TestEnv, assert_matches_file, copy_files, fixtures, summary_step};

const FORECASTS: &str = "SELECT prediction_date, ts, site, measurement, prediction, value, unit, is_outlier \
                         FROM silver.weather_forecasts ORDER BY prediction_date, ts, site, measurement, prediction";

#[tokio::test(flavor = "multi_thread")]
async fn fixture_forecasts_give_exact_silver_rows() {
    let env = TestEnv::new();
    let folder = env.dir.path().join("Meteo2");
    copy_files(&fixtures("weather"), &folder);
    let env = env.var("WEATHER_SOURCE", &folder.to_string_lossy());
    let output = env.run(&["rebuild", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let step = |name: &str| summary_step(&summary, name);
    assert_eq!(
        step("ingest weather")["files"],
        3,
        "three files have a dated name"
    );
    assert_eq!(step("ingest weather")["counters"]["unrecognised_name"], 1);
    assert_eq!(step("bronze weather")["counters"]["quarantined"], 1);

    assert_matches_file(
        &env.query_csv(FORECASTS).await,
        &fixtures("weather.expected.csv"),
    );
    assert_matches_file(
        &env.query_csv("SELECT * FROM silver.weather_file_stats ORDER BY source_file")
            .await,
        &fixtures("weather_file_stats.expected.csv"),
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM bronze.weather_files WHERE source_file = 'Pred_2023-10-05.csv' \
             AND status = 'quarantined' AND error LIKE '%lacks column(s) Prediction, Measurement%'"
        )
        .await,
        1
    );
    // Bronze keeps every row as read, the sentinel and the broken row included.
    assert_eq!(
        env.count("SELECT count(*) FROM bronze.weather_rows").await,
        17
    );
    assert_eq!(
        env.count("SELECT count(*) FROM bronze.weather_rows WHERE value = '-99999.0'")
            .await,
        1
    );
    assert_eq!(
        env.count("SELECT count(*) FROM bronze.weather_rows WHERE raw = 'only,three,fields'")
            .await,
        1
    );

    // A second rebuild changes nothing; a new file adds its own revision only.
    let before = env.digests().await;
    env.run(&["rebuild"]);
    assert_eq!(env.digests().await, before);
    std::fs::write(
        folder.join("Pred_2023-10-06.csv"),
        "Time,Value,Prediction,Site,Measurement,Unit\n2023-10-06 00:00:00+00:00,5.5,00,Sion,PRED_T_2M_ctrl,°C\n",
    )
    .unwrap();
    env.run(&["rebuild"]);
    assert_eq!(
        env.count("SELECT count(*) FROM silver.weather_forecasts")
            .await,
        10
    );
    assert_eq!(
        env.query_csv(&format!("{FORECASTS} LIMIT 9")).await,
        std::fs::read_to_string(fixtures("weather.expected.csv")).unwrap()
    );
}
