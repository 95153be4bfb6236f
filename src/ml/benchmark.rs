//! `datacycle ml benchmark`: per target, a chronological 80/20 split of the feature table, the
//! three candidates trained on the first period and scored on the second, next to two baselines
//! that need no training (the same slot yesterday; the last slot), and one candidate selected:
//! occupancy by AUC; energy among the candidates with MAPE < 10 % the one whose MSD is closest
//! to 0, else the lowest MAPE. The scores go to `gold.ml_benchmark` under a run id derived from
//! the input versions, so a re-run on the same data replaces its rows with identical ones.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde::Serialize;

use super::dataset::Dataset;
use super::metrics::{self, Metrics};
use super::models::Candidate;
use super::{MlError, Result, Target, plot, store};
use crate::lake::{LakeSession, TableRef, WriterLease};
use crate::ops::report::StepReport;

/// The table of benchmark results.
pub fn table() -> TableRef {
    TableRef::gold("ml_benchmark")
}

/// The two baselines, as model names.
pub const SAME_SLOT_YESTERDAY: &str = "baseline_same_slot_yesterday";
pub const LAST_SLOT: &str = "baseline_last_slot";

/// A time window of rows (microseconds since the epoch, UTC, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: i64,
    pub to: i64,
    pub rows: usize,
}

impl Period {
    fn of(data: &Dataset, rows: std::ops::Range<usize>) -> Self {
        Self {
            from: data.keys[rows.start].slot_ts,
            to: data.keys[rows.end - 1].slot_ts,
            rows: rows.len(),
        }
    }
}

/// The score of one model or baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub model: String,
    pub is_baseline: bool,
    pub selected: bool,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// The benchmark of one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetBenchmark {
    pub run_id: String,
    pub target: Target,
    pub train: Period,
    pub test: Period,
    pub input_versions: String,
    pub scores: Vec<Score>,
}

impl TargetBenchmark {
    /// The selected candidate.
    pub fn selected(&self) -> Option<&Score> {
        self.scores.iter().find(|s| s.selected)
    }
}

/// Benchmark `targets`; write the results, and plots to `plot_dir` when given.
pub async fn run(
    session: &LakeSession,
    lease: &WriterLease,
    targets: &[Target],
    plot_dir: Option<&Path>,
) -> Result<(Vec<TargetBenchmark>, StepReport)> {
    let started = Instant::now();
    let mut report = StepReport::new("ml benchmark");
    // Every target is scored before anything is written: a bad one writes nothing.
    let mut results = Vec::new();
    for &target in targets {
        let data = Dataset::load(session, target).await?;
        let input_versions = store::input_versions(session, &[target]).await?;
        let bar = crate::ops::progress::bar(5, "benchmark", "models");
        bar.set_message(target.name());
        let (benchmark, curves) = score_target(&data, input_versions, &|| bar.inc(1))?;
        bar.finish_and_clear();
        report.rows += (benchmark.train.rows + benchmark.test.rows) as u64;
        results.push((benchmark, curves));
    }
    for (benchmark, curves) in &results {
        store::replace_run(
            session.lake(),
            lease,
            &table(),
            benchmark.target,
            &benchmark.run_id,
            rows(benchmark)?,
        )
        .await?;
        if let Some(dir) = plot_dir {
            let written = plot::write(dir, benchmark, curves)?;
            report.files += written.len() as u64;
            report
                .notes
                .extend(written.iter().map(|p| format!("plot: {}", p.display())));
        }
    }
    session.refresh(&table()).await?;
    Ok((
        results.into_iter().map(|(b, _)| b).collect(),
        report.finish(started),
    ))
}

/// What the plots need of a benchmark: each model's test predictions.
pub struct TestPredictions {
    pub slots: Vec<i64>,
    pub actual: Vec<f64>,
    /// (model, prediction per test row).
    pub models: Vec<(String, Vec<f64>)>,
}

/// Train and score every candidate and baseline of `data`'s target.
pub fn score_target(
    data: &Dataset,
    input_versions: String,
    progress: &dyn Fn(),
) -> Result<(TargetBenchmark, TestPredictions)> {
    let target = data.target;
    let split = data.split_at()?;
    let n = data.keys.len();
    if target.is_classification() {
        check_classes(target, &data.y[..split], "training")?;
    }
    let vocabulary = data.vocabulary();
    let x: Vec<Vec<f64>> = (0..n).map(|i| data.features(i, &vocabulary)).collect();
    let (train_x, test_x) = x.split_at(split);
    let (train_y, test_y) = data.y.split_at(split);
    let score = |predicted: &[f64]| match target {
        Target::Occupancy => metrics::classification(test_y, predicted),
        Target::Energy => metrics::regression(test_y, predicted),
    };
    let mut scores = Vec::new();
    let mut models = Vec::new();
    for candidate in Candidate::of(target) {
        let fitted = candidate.fit(target, train_x, train_y)?;
        let predicted = fitted.predict(target, test_x)?;
        scores.push(Score {
            model: candidate.name().into(),
            is_baseline: false,
            selected: false,
            metrics: score(&predicted),
        });
        models.push((candidate.name().to_string(), predicted));
        progress();
    }
    for (name, values) in [
        (SAME_SLOT_YESTERDAY, &data.same_slot_yesterday),
        (LAST_SLOT, &data.last_slot),
    ] {
        let predicted = &values[split..];
        scores.push(Score {
            model: name.into(),
            is_baseline: true,
            selected: false,
            metrics: score(predicted),
        });
        models.push((name.to_string(), predicted.to_vec()));
        progress();
    }
    let chosen = select(target, &scores);
    scores[chosen].selected = true;
    let config: Vec<String> = Candidate::of(target)
        .iter()
        .map(|c| format!("{}: {}", c.name(), c.parameters()))
        .collect();
    let run_id = store::run_id(
        "bench",
        &[target.name(), &input_versions, &config.join(";")],
    );
    let benchmark = TargetBenchmark {
        run_id,
        target,
        train: Period::of(data, 0..split),
        test: Period::of(data, split..n),
        input_versions,
        scores,
    };
    let predictions = TestPredictions {
        slots: data.keys[split..].iter().map(|k| k.slot_ts).collect(),
        actual: test_y.to_vec(),
        models,
    };
    Ok((benchmark, predictions))
}

/// A classification target needs both classes to learn from.
pub fn check_classes(target: Target, y: &[f64], period: &str) -> Result<()> {
    let positives = y.iter().filter(|v| **v >= 0.5).count();
    if positives == 0 || positives == y.len() {
        return Err(MlError::Invalid {
            target,
            message: format!(
                "the {period} period has one class only ({} of {} slots occupied): nothing to \
                 learn",
                positives,
                y.len()
            ),
        });
    }
    Ok(())
}

/// The index of the selected candidate among `scores` (baselines are never selected).
fn select(target: Target, scores: &[Score]) -> usize {
    let candidates = scores.iter().enumerate().filter(|(_, s)| !s.is_baseline);
    let key = |value: Option<f64>| value.unwrap_or(f64::INFINITY);
    let best = match target {
        // Highest AUC, the first on ties.
        Target::Occupancy => {
            let auc = |s: &Score| s.metrics.auc.unwrap_or(f64::NEG_INFINITY);
            candidates.min_by(|(_, a), (_, b)| auc(b).total_cmp(&auc(a)))
        }
        Target::Energy => {
            let accurate: Vec<(usize, &Score)> = candidates
                .clone()
                .filter(|(_, s)| s.metrics.mape.is_some_and(|m| m < 10.0))
                .collect();
            if accurate.is_empty() {
                candidates
                    .min_by(|(_, a), (_, b)| key(a.metrics.mape).total_cmp(&key(b.metrics.mape)))
            } else {
                accurate.into_iter().min_by(|(_, a), (_, b)| {
                    key(a.metrics.msd.map(f64::abs)).total_cmp(&key(b.metrics.msd.map(f64::abs)))
                })
            }
        }
    };
    best.map_or(0, |(i, _)| i)
}

/// Reads one metric of a score.
type MetricOf = fn(&Metrics) -> Option<f64>;

/// The rows of `gold.ml_benchmark` for one benchmark.
fn rows(benchmark: &TargetBenchmark) -> Result<RecordBatch> {
    let n = benchmark.scores.len();
    let text = |value: &str| Arc::new(StringArray::from(vec![value; n])) as ArrayRef;
    let metric = |get: MetricOf| {
        Arc::new(Float64Array::from_iter(
            benchmark.scores.iter().map(|s| get(&s.metrics)),
        )) as ArrayRef
    };
    let time = |value: i64| {
        Arc::new(TimestampMicrosecondArray::from(vec![value; n]).with_timezone("UTC")) as ArrayRef
    };
    let count = |value: usize| Arc::new(Int64Array::from(vec![value as i64; n])) as ArrayRef;
    let timestamp = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("target", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("is_baseline", DataType::Boolean, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        text(&benchmark.run_id),
        text(benchmark.target.name()),
        Arc::new(StringArray::from_iter_values(
            benchmark.scores.iter().map(|s| s.model.as_str()),
        )),
        Arc::new(BooleanArray::from_iter(
            benchmark.scores.iter().map(|s| Some(s.is_baseline)),
        )),
    ];
    let metrics: [(&str, MetricOf); 9] = [
        ("auc", |m| m.auc),
        ("accuracy", |m| m.accuracy),
        ("precision", |m| m.precision),
        ("recall", |m| m.recall),
        ("f1", |m| m.f1),
        ("mape", |m| m.mape),
        ("msd", |m| m.msd),
        ("mae", |m| m.mae),
        ("rmse", |m| m.rmse),
    ];
    for (name, get) in metrics {
        fields.push(Field::new(name, DataType::Float64, true));
        columns.push(metric(get));
    }
    for (name, value) in [
        ("train_from", benchmark.train.from),
        ("train_to", benchmark.train.to),
        ("test_from", benchmark.test.from),
        ("test_to", benchmark.test.to),
    ] {
        fields.push(Field::new(name, timestamp.clone(), false));
        columns.push(time(value));
    }
    for (name, value) in [
        ("train_rows", benchmark.train.rows),
        ("test_rows", benchmark.test.rows),
    ] {
        fields.push(Field::new(name, DataType::Int64, false));
        columns.push(count(value));
    }
    fields.push(Field::new("selected", DataType::Boolean, false));
    columns.push(Arc::new(BooleanArray::from_iter(
        benchmark.scores.iter().map(|s| Some(s.selected)),
    )));
    fields.push(Field::new("input_versions", DataType::Utf8, false));
    columns.push(text(&benchmark.input_versions));
    fields.push(Field::new("benchmarked_at", timestamp, false));
    columns.push(time(chrono::Utc::now().timestamp_micros()));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(model: &str, is_baseline: bool, metrics: Metrics) -> Score {
        Score {
            model: model.into(),
            is_baseline,
            selected: false,
            metrics,
        }
    }

    fn energy(mape: f64, msd: f64) -> Metrics {
        Metrics {
            mape: Some(mape),
            msd: Some(msd),
            ..Metrics::default()
        }
    }

    #[test]
    fn energy_selects_the_least_biased_accurate_model_else_the_lowest_mape() {
        let scores = vec![
            scored("a", false, energy(9.0, 5.0)),
            scored("b", false, energy(8.0, -0.5)),
            scored("c", false, energy(30.0, 0.0)),
            scored("baseline", true, energy(1.0, 0.0)),
        ];
        assert_eq!(select(Target::Energy, &scores), 1);
        let scores = vec![
            scored("a", false, energy(40.0, 0.0)),
            scored("b", false, energy(12.0, 9.0)),
            scored("baseline", true, energy(1.0, 0.0)),
        ];
        assert_eq!(select(Target::Energy, &scores), 1);
    }

    #[test]
    fn occupancy_selects_the_highest_auc_and_never_a_baseline() {
        let auc = |v: f64| Metrics {
            auc: Some(v),
            ..Metrics::default()
        };
        let scores = vec![
            scored("a", false, auc(0.8)),
            scored("b", false, auc(0.9)),
            scored("c", false, auc(0.9)),
            scored("baseline", true, auc(0.99)),
        ];
        assert_eq!(select(Target::Occupancy, &scores), 1);
    }

    #[test]
    fn one_class_is_refused_with_the_target_named() {
        let error = check_classes(Target::Occupancy, &[0.0, 0.0, 0.0], "training")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("ml occupancy: the training period has one class only"),
            "{error}"
        );
        assert!(check_classes(Target::Occupancy, &[0.0, 1.0], "training").is_ok());
    }
}
