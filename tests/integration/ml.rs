//! Machine learning on generated data (occupancy there follows a daily schedule): the selected
//! models beat the "same slot yesterday" baseline, the same data gives the same metrics and
//! predictions, a prediction run replaces its own rows, forecasts lie past the observed slots,
//! and bad input stops with the target named and nothing written.

use serde_json::Value;

use crate::common::{TestEnv, generate, temp_dir};

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The score of `model` in the benchmark of `target`.
fn score<'a>(benchmarks: &'a Value, target: &str, model: &str) -> &'a Value {
    benchmarks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["target"] == target)
        .unwrap_or_else(|| panic!("no {target} benchmark in {benchmarks}"))["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["model"] == model)
        .unwrap_or_else(|| panic!("no {model} among the {target} scores"))
}

fn selected<'a>(benchmarks: &'a Value, target: &str) -> &'a Value {
    let benchmark = benchmarks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["target"] == target)
        .unwrap();
    let chosen: Vec<&Value> = benchmark["scores"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["selected"] == true)
        .collect();
    assert_eq!(chosen.len(), 1, "{target}: exactly one selected model");
    assert_eq!(
        chosen[0]["is_baseline"], false,
        "{target}: a baseline was selected"
    );
    chosen[0]
}

const METRICS: &str = "SELECT target, model, is_baseline, auc, accuracy, precision, recall, f1, \
     mape, msd, mae, rmse, train_rows, test_rows, selected FROM gold.ml_benchmark \
     ORDER BY target, model";

const PREDICTIONS: &str = "SELECT * FROM gold.fact_prediction \
     ORDER BY run_id, target, apartment, room, slot_ts, horizon_slots";

#[tokio::test(flavor = "multi_thread")]
async fn models_beat_the_baselines_and_runs_replace_their_rows() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 10, 2);
    let env = TestEnv::new().with_sources(&generated);
    env.run(&["rebuild"]);
    assert!(
        env.count("SELECT count(*) FROM gold.ml_occupancy_features")
            .await
            > 1_000
    );
    assert!(
        env.count("SELECT count(*) FROM gold.ml_energy_features")
            .await
            > 1_000
    );

    let plots = env.dir.path().join("plots");
    let plot_dir = plots.to_string_lossy().to_string();
    let first = json(&env.run(&["ml", "benchmark", "--plot", &plot_dir, "--format", "json"]));
    let benchmarks = &first["benchmarks"];

    let classifier = selected(benchmarks, "occupancy");
    let auc = classifier["auc"].as_f64().unwrap();
    let yesterday_auc = score(benchmarks, "occupancy", "baseline_same_slot_yesterday")["auc"]
        .as_f64()
        .unwrap();
    assert!(auc >= 0.8, "selected classifier AUC {auc}");
    assert!(
        auc > yesterday_auc,
        "AUC {auc} does not beat the baseline's {yesterday_auc}"
    );
    let regressor = selected(benchmarks, "energy");
    let mape = regressor["mape"].as_f64().unwrap();
    let yesterday_mape = score(benchmarks, "energy", "baseline_same_slot_yesterday")["mape"]
        .as_f64()
        .unwrap();
    assert!(
        mape < yesterday_mape,
        "MAPE {mape} does not beat the baseline's {yesterday_mape}"
    );
    // Metrics that do not apply are NULL.
    assert!(classifier["mape"].is_null() && regressor["auc"].is_null());

    let roc = std::fs::read_to_string(plots.join("occupancy_roc.svg")).unwrap();
    for model in ["logistic_regression", "decision_tree", "random_forest"] {
        assert!(
            roc.contains(&format!("{model} (AUC 0.")),
            "{model} missing from the ROC legend"
        );
    }
    let power = std::fs::read_to_string(plots.join("energy_test_period.svg")).unwrap();
    assert!(power.contains("<svg") && power.contains("predicted"));

    // The same data: the same run, the same metrics, its rows replaced.
    let metrics = env.query_csv(METRICS).await;
    assert_eq!(
        env.count("SELECT count(*) FROM gold.ml_benchmark").await,
        10,
        "{metrics}"
    );
    env.run(&["ml", "benchmark"]);
    assert_eq!(
        env.query_csv(METRICS).await,
        metrics,
        "a second benchmark differs"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM gold.ml_benchmark").await,
        10
    );

    // Predictions: twice on the same data leaves the same rows.
    let runs = json(&env.run(&["ml", "predict", "--format", "json"]));
    let predictions = env.query_csv(PREDICTIONS).await;
    let rows = env.count("SELECT count(*) FROM gold.fact_prediction").await;
    env.run(&["ml", "predict"]);
    assert_eq!(
        env.count("SELECT count(*) FROM gold.fact_prediction").await,
        rows
    );
    assert_eq!(
        env.query_csv(PREDICTIONS).await,
        predictions,
        "a second run differs"
    );

    // Forecasts: the horizon's slots right after each room's last observed slot, no actual.
    for (target, features, horizon) in [
        ("occupancy", "gold.ml_occupancy_features", 4),
        ("energy", "gold.ml_energy_features", 96),
    ] {
        let misplaced = env
            .count(&format!(
                "WITH last AS (SELECT apartment, room, max(slot_ts) AS slot_ts FROM {features} \
                 GROUP BY apartment, room) \
                 SELECT count(*) FROM gold.fact_prediction p JOIN last l \
                 ON p.apartment = l.apartment AND p.room = l.room \
                 WHERE p.target = '{target}' AND p.actual IS NULL \
                 AND to_unixtime(p.slot_ts) - to_unixtime(l.slot_ts) <> p.horizon_slots * 900"
            ))
            .await;
        assert_eq!(
            misplaced, 0,
            "{target}: a forecast is not where its horizon says"
        );
        let groups = env
            .count(&format!(
                "SELECT count(DISTINCT apartment || '/' || room) FROM {features}"
            ))
            .await;
        let forecasts = env
            .count(&format!(
                "SELECT count(*) FROM gold.fact_prediction WHERE target = '{target}' \
                 AND actual IS NULL AND horizon_slots BETWEEN 1 AND {horizon}"
            ))
            .await;
        assert_eq!(forecasts, groups * horizon, "{target} forecasts");
        let backtest = env
            .count(&format!(
                "SELECT count(*) FROM gold.fact_prediction WHERE target = '{target}' \
                 AND actual IS NOT NULL AND horizon_slots = 1"
            ))
            .await;
        assert!(backtest > 100, "{target}: {backtest} backtest rows");
    }
    assert_eq!(
        env.count(
            "SELECT count(*) FROM gold.fact_prediction WHERE target = 'occupancy' \
             AND (probability < 0 OR probability > 1 OR probability IS NULL)"
        )
        .await,
        0
    );
    // Every minute of the occupancy forecasts has its probability in the presence fact.
    let forecast_minutes = env
        .count(
            "SELECT count(*) * 15 FROM gold.fact_prediction \
             WHERE target = 'occupancy' AND actual IS NULL",
        )
        .await;
    assert_eq!(
        env.count("SELECT count(*) FROM gold.fact_presence_minute WHERE presence_prob IS NOT NULL")
            .await,
        forecast_minutes
    );
    // The saved model and what it was trained on.
    for run in runs["predictions"].as_array().unwrap() {
        let folder = env.lake.join(run["model_path"].as_str().unwrap());
        let metadata: Value =
            serde_json::from_slice(&std::fs::read(folder.join("metadata.json")).unwrap()).unwrap();
        assert_eq!(metadata["run_id"], run["run_id"]);
        assert!(metadata["input_versions"].as_str().unwrap().contains("@"));
        assert!(metadata["features"].as_array().unwrap().len() > 5);
        let metric = if run["target"] == "occupancy" {
            "auc"
        } else {
            "mape"
        };
        assert!(
            metadata["backtest_metrics"][metric].as_f64().is_some(),
            "{metadata}"
        );
        assert!(std::fs::metadata(folder.join("model.json")).unwrap().len() > 100);
    }

    // A named run adds its own rows; repeating it replaces them.
    env.run(&[
        "ml",
        "predict",
        "--target",
        "occupancy",
        "--run-id",
        "manual",
    ]);
    let manual = env
        .count("SELECT count(*) FROM gold.fact_prediction WHERE run_id = 'manual'")
        .await;
    assert!(manual > 0);
    env.run(&[
        "ml",
        "predict",
        "--target",
        "occupancy",
        "--run-id",
        "manual",
    ]);
    assert_eq!(
        env.count("SELECT count(*) FROM gold.fact_prediction").await,
        rows + manual
    );
}

/// Run `args`, insist on failure, and return stderr.
fn failure(env: &TestEnv, args: &[&str]) -> String {
    let output = env.command().args(args).output().unwrap();
    assert!(!output.status.success(), "datacycle {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_input_names_the_target_and_writes_nothing() {
    // No sensor data: gold has no feature rows.
    let env = TestEnv::new();
    env.run(&["build"]);
    let stderr = failure(&env, &["ml", "benchmark"]);
    assert!(
        stderr.contains("ml occupancy: no rows in gold.ml_occupancy_features"),
        "{stderr}"
    );
    assert!(!env.lake.join("gold/ml_benchmark").exists());
    // Predicting needs a benchmark first.
    let stderr = failure(&env, &["ml", "predict"]);
    assert!(
        stderr.contains("run `datacycle ml benchmark` first"),
        "{stderr}"
    );
    assert!(!env.lake.join("gold/fact_prediction").exists());
}
