//! `datacycle ml predict`: the model each target's latest benchmark selected, trained again,
//! written as predictions to `gold.fact_prediction`:
//! - **backtest** rows for the benchmark's test period: the model trained on the periods before
//!   it, one slot ahead with the observed lags (`horizon_slots` 1, `actual` known);
//! - **forecast** rows for the next N slots past each room's last observed slot: the model
//!   trained on all history, stepping forward one slot at a time and feeding its own predictions
//!   back as the target's lags (occupancy: the predicted class; energy: the predicted power).
//!   Other lagged signals (door and window counts, motion counts) keep their last observed
//!   value; calendar features come from the slot; weather from the best forecast of the slot's
//!   hour (the latest hour known when the forecast runs out). `actual` is NULL.
//!
//! `predicted_at` is the moment the inputs are known: the start of the predicted slot for a
//! backtest row, the end of the last observed slot for a forecast. With the run id derived from
//! the model and the input versions, predicting twice on the same data writes the same rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Datelike, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, TimeUnit};
use serde::Serialize;

use super::benchmark::check_classes;
use super::dataset::{Dataset, SlotKey, Vocabulary};
use super::metrics::DECISION_THRESHOLD;
use super::models::{Candidate, Fitted};
use super::{MlError, Result, Target, store};
use crate::catalog::keys::surrogate_key_of;
use crate::catalog::queries;
use crate::lake::{LakeSession, TableRef, WriterLease};
use crate::ops::report::StepReport;

const SLOT_MICROS: i64 = 900_000_000;

/// The table of predictions.
pub fn table() -> TableRef {
    TableRef::gold("fact_prediction")
}

/// What `ml predict` does.
#[derive(Debug, Clone, Default)]
pub struct PredictOptions {
    pub targets: Vec<Target>,
    /// Forecast slots past the last observed one (default: the target's own).
    pub horizon_slots: Option<usize>,
    /// Run id of the predictions (default: derived from the model and the input versions).
    pub run_id: Option<String>,
}

/// What one target's prediction run wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PredictionRun {
    pub run_id: String,
    pub target: Target,
    pub model: String,
    pub benchmark_run_id: String,
    pub backtest_rows: usize,
    pub forecast_rows: usize,
    pub horizon_slots: usize,
    pub input_versions: String,
    pub model_path: String,
    /// Minutes of `gold.fact_presence_minute` given a `presence_prob` (occupancy).
    pub presence_minutes: usize,
}

/// One predicted slot.
struct Prediction {
    key: SlotKey,
    predicted_at: i64,
    horizon: usize,
    value: f64,
    actual: Option<f64>,
}

pub async fn run(
    session: &LakeSession,
    lease: &WriterLease,
    options: &PredictOptions,
) -> Result<(Vec<PredictionRun>, StepReport)> {
    let started = Instant::now();
    let mut report = StepReport::new("ml predict");
    let selected = selected_models(session).await?;
    let mut runs = Vec::new();
    // Everything is computed before anything is written: a bad target writes nothing.
    let mut pending = Vec::new();
    for &target in &options.targets {
        let Some((model, benchmark_run_id)) = selected.get(&target) else {
            return Err(MlError::Invalid {
                target,
                message: "no benchmark has selected a model yet: run `datacycle ml benchmark` \
                          first"
                    .into(),
            });
        };
        let candidate = Candidate::from_name(model).ok_or_else(|| MlError::Invalid {
            target,
            message: format!("gold.ml_benchmark selected an unknown model `{model}`"),
        })?;
        let data = Dataset::load(session, target).await?;
        let weather = home_weather(session, target).await?;
        let input_versions = store::input_versions(session, &[target]).await?;
        let horizon = options
            .horizon_slots
            .unwrap_or_else(|| target.default_horizon());
        let run_id = options.run_id.clone().unwrap_or_else(|| {
            store::run_id(
                "predict",
                &[
                    target.name(),
                    model,
                    &candidate.parameters(),
                    &input_versions,
                    &horizon.to_string(),
                ],
            )
        });
        let bar = crate::ops::progress::bar(2, "predict", "models");
        bar.set_message(target.name());
        let (predictions, model_json, trained_rows) =
            predict_target(&data, candidate, horizon, &weather, &|| bar.inc(1))?;
        bar.finish_and_clear();
        let backtest_rows = predictions.iter().filter(|p| p.actual.is_some()).count();
        let backtest = backtest_metrics(target, &predictions);
        let model_path = format!("_models/{target}/{run_id}");
        let metadata = serde_json::json!({
            "run_id": run_id,
            "target": target.name(),
            "model": model,
            "parameters": candidate.parameters(),
            "benchmark_run_id": benchmark_run_id,
            "features": data.feature_names(&data.vocabulary()),
            "vocabulary": data.vocabulary(),
            "backtest_metrics": backtest,
            "trained_rows": trained_rows,
            "trained_until": data.keys.last().map(|k| k.slot_ts),
            "input_versions": input_versions,
            "horizon_slots": horizon,
        });
        runs.push(PredictionRun {
            run_id: run_id.clone(),
            target,
            model: model.clone(),
            benchmark_run_id: benchmark_run_id.clone(),
            backtest_rows,
            forecast_rows: predictions.len() - backtest_rows,
            horizon_slots: horizon,
            input_versions,
            model_path: model_path.clone(),
            presence_minutes: 0,
        });
        pending.push((
            target,
            run_id,
            model.clone(),
            predictions,
            model_json,
            metadata,
            model_path,
        ));
    }
    for (run, (target, run_id, model, predictions, model_json, metadata, model_path)) in
        runs.iter_mut().zip(pending)
    {
        report.rows += predictions.len() as u64;
        let batch = rows(&run_id, &model, target, &predictions)?;
        store::replace_run(session.lake(), lease, &table(), target, &run_id, batch).await?;
        if target == Target::Occupancy {
            run.presence_minutes = fill_presence(session, lease, &predictions).await?;
            report.count("presence_minutes", run.presence_minutes as u64);
        }
        let metadata = serde_json::to_vec_pretty(&metadata).expect("json");
        report.bytes += (model_json.len() + metadata.len()) as u64;
        store::put(
            session.lake(),
            &format!("{model_path}/model.json"),
            model_json,
        )
        .await?;
        store::put(
            session.lake(),
            &format!("{model_path}/metadata.json"),
            metadata,
        )
        .await?;
        report.files += 2;
    }
    session.refresh(&table()).await?;
    Ok((runs, report.finish(started)))
}

/// Give the minutes of the occupancy forecasts their probability in
/// `gold.fact_presence_minute` (`queries/ml/presence_forecast.sql`): the days they fall on are
/// replaced in one commit. Returns the minutes filled.
async fn fill_presence(
    session: &LakeSession,
    lease: &WriterLease,
    predictions: &[Prediction],
) -> Result<usize> {
    let presence = TableRef::gold("fact_presence_minute");
    let forecasts: Vec<&Prediction> = predictions.iter().filter(|p| p.actual.is_none()).collect();
    if forecasts.is_empty() || session.lake().open_table(&presence).await?.is_none() {
        return Ok(0);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("apartment", DataType::Utf8, false),
        Field::new("room", DataType::Utf8, false),
        Field::new(
            "slot_ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("probability", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(
                forecasts.iter().map(|p| p.key.apartment.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                forecasts.iter().map(|p| p.key.room.as_str()),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    forecasts.iter().map(|p| p.key.slot_ts),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Float64Array::from_iter_values(
                forecasts.iter().map(|p| p.value),
            )),
        ],
    )?;
    // A slot's minutes are all on the slot's date.
    let days: std::collections::BTreeSet<i32> = forecasts
        .iter()
        .map(|p| {
            let date = DateTime::from_timestamp_micros(p.key.slot_ts).expect("slot in range");
            crate::catalog::keys::date_key_of(date.date_naive())
        })
        .collect();
    const INPUT: &str = "presence_forecast";
    session.ctx().register_batch(INPUT, batch)?;
    let plan = crate::transform::plan_query(session, &queries::PRESENCE_FORECAST).await;
    session.ctx().deregister_table(INPUT)?;
    let selection = datafusion::logical_expr::col("date_key").in_list(
        days.iter()
            .map(|d| datafusion::logical_expr::lit(*d))
            .collect(),
        false,
    );
    lease.check().await?;
    session
        .lake()
        .write(crate::lake::TableWrite {
            table: &presence,
            partition_columns: &["date_key"],
            input: crate::lake::WriteInput::Plan {
                plan: plan?,
                session: Arc::new(session.ctx().state()),
            },
            mode: crate::lake::WriteMode::ReplaceWhere(selection),
            app_transaction: None,
            without_statistics: &[],
        })
        .await?;
    session.refresh(&presence).await?;
    Ok(forecasts.len() * 15)
}

/// The scores of the backtest rows: the benchmark's test-period metrics of this model.
fn backtest_metrics(target: Target, predictions: &[Prediction]) -> super::metrics::Metrics {
    let (actual, predicted): (Vec<f64>, Vec<f64>) = predictions
        .iter()
        .filter_map(|p| p.actual.map(|a| (a, p.value)))
        .unzip();
    match target {
        Target::Occupancy => super::metrics::classification(&actual, &predicted),
        Target::Energy => super::metrics::regression(&actual, &predicted),
    }
}

/// target → (model, benchmark run id) of the latest benchmark.
async fn selected_models(session: &LakeSession) -> Result<HashMap<Target, (String, String)>> {
    if session
        .lake()
        .open_table(&super::benchmark::table())
        .await?
        .is_none()
    {
        return Ok(HashMap::new());
    }
    let batches = crate::transform::collect_query(session, &queries::SELECTED_MODELS).await?;
    let mut selected = HashMap::new();
    for batch in &batches {
        let text = |i: usize| datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8);
        let (targets, models, runs) = (text(0)?, text(1)?, text(2)?);
        for row in 0..batch.num_rows() {
            let name = targets.as_string::<i32>().value(row);
            if let Some(target) = Target::ALL.into_iter().find(|t| t.name() == name) {
                selected.insert(
                    target,
                    (
                        models.as_string::<i32>().value(row).to_string(),
                        runs.as_string::<i32>().value(row).to_string(),
                    ),
                );
            }
        }
    }
    Ok(selected)
}

/// The home site's weather per hour (`YYYYMMDDHHMM` key → measure name → value); empty for a
/// target without weather features.
async fn home_weather(
    session: &LakeSession,
    target: Target,
) -> Result<BTreeMap<i64, Vec<(String, f64)>>> {
    let mut hours = BTreeMap::new();
    if target != Target::Energy {
        return Ok(hours);
    }
    for batch in crate::transform::collect_query(session, &queries::HOME_WEATHER).await? {
        let schema = batch.schema();
        let keys = datafusion::arrow::compute::cast(batch.column(0), &DataType::Int64)?;
        let measures: Vec<(String, ArrayRef)> = (1..batch.num_columns())
            .map(|i| {
                datafusion::arrow::compute::cast(batch.column(i), &DataType::Float64)
                    .map(|a| (schema.field(i).name().clone(), a))
            })
            .collect::<std::result::Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            let values = measures
                .iter()
                .map(|(name, a)| (name.clone(), a.as_primitive::<Float64Type>().value(row)))
                .collect();
            hours.insert(keys.as_primitive::<Int64Type>().value(row), values);
        }
    }
    Ok(hours)
}

/// Backtest and forecast predictions of one target, the trained model (JSON) and its row count.
fn predict_target(
    data: &Dataset,
    candidate: Candidate,
    horizon: usize,
    weather: &BTreeMap<i64, Vec<(String, f64)>>,
    progress: &dyn Fn(),
) -> Result<(Vec<Prediction>, Vec<u8>, usize)> {
    let target = data.target;
    let split = data.split_at()?;
    if target.is_classification() {
        check_classes(target, &data.y[..split], "training")?;
    }
    let vocabulary = data.vocabulary();
    let x: Vec<Vec<f64>> = (0..data.keys.len())
        .map(|i| data.features(i, &vocabulary))
        .collect();

    let backtest_model = candidate.fit(target, &x[..split], &data.y[..split])?;
    let values = backtest_model.predict(target, &x[split..])?;
    let mut predictions: Vec<Prediction> = data.keys[split..]
        .iter()
        .zip(values)
        .zip(&data.y[split..])
        .map(|((key, value), actual)| Prediction {
            key: key.clone(),
            predicted_at: key.slot_ts,
            horizon: 1,
            value,
            actual: Some(*actual),
        })
        .collect();
    progress();

    let model = candidate.fit(target, &x, &data.y)?;
    predictions.extend(forecast(data, &model, &vocabulary, horizon, weather)?);
    progress();
    let json = serde_json::to_vec(&model).map_err(|e| MlError::Output {
        path: "model.json".into(),
        message: e.to_string(),
    })?;
    Ok((predictions, json, data.keys.len()))
}

/// The series a lag feature looks at and how many slots back: `power_w_lag96` → (`power_w`, 96).
fn lag_of(feature: &str) -> Option<(&str, i64)> {
    let (series, lag) = feature.rsplit_once("_lag")?;
    Some((series, lag.parse().ok()?))
}

/// The series the target is a lag of (what its own lag features are called).
fn target_series(target: Target) -> &'static str {
    match target {
        Target::Occupancy => "occupied",
        Target::Energy => "power_w",
    }
}

/// Forecasts for `horizon` slots past each room's last observed slot.
fn forecast(
    data: &Dataset,
    model: &Fitted,
    vocabulary: &Vocabulary,
    horizon: usize,
    weather: &BTreeMap<i64, Vec<(String, f64)>>,
) -> Result<Vec<Prediction>> {
    let target = data.target;
    let own = target_series(target);
    // Every known value of every lagged series, by (room, slot), from the rows' lag columns and
    // their targets; and each room's last observed row.
    let mut history: HashMap<(String, String, String, i64), f64> = HashMap::new();
    let mut last_row: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (row, key) in data.keys.iter().enumerate() {
        let group = (key.apartment.clone(), key.room.clone());
        for (name, value) in data.base_features.iter().zip(&data.base[row]) {
            if let Some((series, lag)) = lag_of(name) {
                let slot = key.slot_ts - lag * SLOT_MICROS;
                history.insert(
                    (group.0.clone(), group.1.clone(), series.into(), slot),
                    *value,
                );
            }
        }
        history.insert(
            (group.0.clone(), group.1.clone(), own.into(), key.slot_ts),
            data.y[row],
        );
        last_row.insert(group, row);
    }
    let mut out = Vec::new();
    for ((apartment, room), row) in last_row {
        let origin = data.keys[row].slot_ts + SLOT_MICROS;
        // The newest known value of each series (what a signal without a forecast keeps).
        let mut latest: HashMap<String, (i64, f64)> = HashMap::new();
        for ((a, r, series, slot), value) in &history {
            if *a == apartment && *r == room {
                let entry = latest.entry(series.clone()).or_insert((*slot, *value));
                if *slot > entry.0 {
                    *entry = (*slot, *value);
                }
            }
        }
        for step in 1..=horizon {
            let slot = data.keys[row].slot_ts + step as i64 * SLOT_MICROS;
            let key = SlotKey {
                apartment: apartment.clone(),
                room: room.clone(),
                slot_ts: slot,
            };
            let mut features = Vec::with_capacity(data.base_features.len());
            for name in &data.base_features {
                features.push(feature_value(
                    target, name, &key, &history, &latest, weather,
                )?);
            }
            features.extend(vocabulary.encode(&key));
            let value = model.predict(target, std::slice::from_ref(&features))?[0];
            let fed_back = match target {
                Target::Occupancy => f64::from(u8::from(value >= DECISION_THRESHOLD)),
                Target::Energy => value,
            };
            history.insert(
                (apartment.clone(), room.clone(), own.into(), slot),
                fed_back,
            );
            latest.insert(own.into(), (slot, fed_back));
            out.push(Prediction {
                key,
                predicted_at: origin,
                horizon: step,
                value,
                actual: None,
            });
        }
    }
    Ok(out)
}

/// The value of feature `name` for the future slot `key`.
fn feature_value(
    target: Target,
    name: &str,
    key: &SlotKey,
    history: &HashMap<(String, String, String, i64), f64>,
    latest: &HashMap<String, (i64, f64)>,
    weather: &BTreeMap<i64, Vec<(String, f64)>>,
) -> Result<f64> {
    let time = DateTime::from_timestamp_micros(key.slot_ts).expect("slot in range");
    let iso_day = f64::from(time.weekday().number_from_monday());
    let value = match name {
        "hour" => f64::from(time.hour()),
        "day_of_week" => iso_day,
        "month" => f64::from(time.month()),
        "is_weekend" => f64::from(u8::from(iso_day >= 6.0)),
        _ => {
            if let Some((series, lag)) = lag_of(name) {
                let slot = key.slot_ts - lag * SLOT_MICROS;
                let known = (
                    key.apartment.clone(),
                    key.room.clone(),
                    series.to_string(),
                    slot,
                );
                match history.get(&known) {
                    Some(v) => *v,
                    None => {
                        latest
                            .get(series)
                            .map(|(_, v)| *v)
                            .ok_or_else(|| MlError::Invalid {
                                target,
                                message: format!(
                                    "no history of `{series}` for {}/{}",
                                    key.apartment, key.room
                                ),
                            })?
                    }
                }
            } else {
                let hour_key = hour_key(key.slot_ts);
                let (_, measures) =
                    weather
                        .range(..=hour_key)
                        .next_back()
                        .ok_or_else(|| MlError::Invalid {
                            target,
                            message: format!("no weather forecast for the hour of slot {}", time),
                        })?;
                measures
                    .iter()
                    .find(|(m, _)| m == name)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| MlError::Invalid {
                        target,
                        message: format!("cannot forecast feature `{name}`"),
                    })?
            }
        }
    };
    Ok(value)
}

/// `YYYYMMDDHHMM` of the hour of a slot (the `datetime_key` of gold).
fn hour_key(slot: i64) -> i64 {
    let t = DateTime::from_timestamp_micros(slot).expect("slot in range");
    i64::from(t.year()) * 100_000_000
        + i64::from(t.month()) * 1_000_000
        + i64::from(t.day()) * 10_000
        + i64::from(t.hour()) * 100
}

/// The rows of `gold.fact_prediction` of one run.
fn rows(
    run_id: &str,
    model: &str,
    target: Target,
    predictions: &[Prediction],
) -> Result<RecordBatch> {
    let n = predictions.len();
    let text = |value: &str| Arc::new(StringArray::from(vec![value; n])) as ArrayRef;
    let timestamp = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let times = |get: fn(&Prediction) -> i64| {
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(predictions.iter().map(get))
                .with_timezone("UTC"),
        ) as ArrayRef
    };
    let classify = target.is_classification();
    let schema = Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("predicted_at", timestamp.clone(), false),
        Field::new("model_name", DataType::Utf8, false),
        Field::new("target", DataType::Utf8, false),
        Field::new("apartment", DataType::Utf8, false),
        Field::new("apartment_key", DataType::Int64, false),
        Field::new("room", DataType::Utf8, false),
        Field::new("room_key", DataType::Int64, false),
        Field::new("slot_ts", timestamp, false),
        Field::new("horizon_slots", DataType::Int32, false),
        Field::new("predicted", DataType::Float64, false),
        Field::new("probability", DataType::Float64, true),
        Field::new("actual", DataType::Float64, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        text(run_id),
        times(|p| p.predicted_at),
        text(model),
        text(target.name()),
        Arc::new(StringArray::from_iter_values(
            predictions.iter().map(|p| p.key.apartment.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            predictions
                .iter()
                .map(|p| surrogate_key_of([p.key.apartment.as_str()])),
        )),
        Arc::new(StringArray::from_iter_values(
            predictions.iter().map(|p| p.key.room.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(predictions.iter().map(|p| {
            surrogate_key_of([p.key.apartment.as_str(), p.key.room.as_str()])
        }))),
        times(|p| p.key.slot_ts),
        Arc::new(Int32Array::from_iter_values(
            predictions.iter().map(|p| p.horizon as i32),
        )),
        Arc::new(Float64Array::from_iter_values(predictions.iter().map(
            |p| {
                if classify {
                    f64::from(u8::from(p.value >= DECISION_THRESHOLD))
                } else {
                    p.value
                }
            },
        ))),
        Arc::new(Float64Array::from_iter(
            predictions.iter().map(|p| classify.then_some(p.value)),
        )),
        Arc::new(Float64Array::from_iter(
            predictions.iter().map(|p| p.actual),
        )),
    ];
    debug_assert!(columns.iter().all(|c| c.len() == n));
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}
