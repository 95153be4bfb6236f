//! `datacycle ml benchmark` and `datacycle ml predict`, and how their results are printed.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};

use super::output::{ReportFormat, print_summary};
use super::pipeline::Writer;
use super::{LakeArgs, ModelArgs, SummaryArgs};
use crate::config::Settings;
use crate::error::Result;
use crate::ml::benchmark::TargetBenchmark;
use crate::ml::predict::{PredictOptions, PredictionRun};
use crate::ml::{Target, benchmark, predict};
use crate::ops::report::RunSummary;
use crate::transform;

#[derive(Debug, Subcommand)]
pub enum MlCommand {
    /// Train the candidate models of each target on the first 80 % of its feature table (in
    /// time), score them and two baselines on the rest, select one model per target; results in
    /// gold.ml_benchmark.
    Benchmark(MlBenchmarkArgs),
    /// Train each target's selected model; backtest rows and true forecasts past the last
    /// observed slot into gold.fact_prediction, the model under _models/.
    Predict(MlPredictArgs),
}

/// Which targets a command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetChoice {
    Occupancy,
    Energy,
    All,
}

impl TargetChoice {
    fn targets(self) -> Vec<Target> {
        match self {
            Self::Occupancy => vec![Target::Occupancy],
            Self::Energy => vec![Target::Energy],
            Self::All => Target::ALL.to_vec(),
        }
    }
}

#[derive(Debug, Args)]
pub struct MlBenchmarkArgs {
    /// Target to benchmark.
    #[arg(long, value_enum, env = "ML_TARGET", default_value = "all")]
    pub target: TargetChoice,
    /// Write SVG plots here: ROC curves of the classifiers, predicted vs actual power.
    #[arg(long, env = "ML_PLOT_DIR")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args)]
pub struct MlPredictArgs {
    /// Target to predict.
    #[arg(long, value_enum, env = "ML_TARGET", default_value = "all")]
    pub target: TargetChoice,
    /// Slots (15 minutes each) to forecast past the last observed one [default: 4 for
    /// occupancy, 96 for energy].
    #[arg(long, env = "ML_HORIZON_SLOTS")]
    pub horizon_slots: Option<usize>,
    /// Run id of the predictions; a run's rows replace its earlier rows [default: derived from
    /// the selected model and the input Delta versions].
    #[arg(long, env = "ML_RUN_ID")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

pub async fn run(settings: &Settings, command: MlCommand) -> Result<i32> {
    match command {
        MlCommand::Benchmark(args) => {
            let started = Instant::now();
            let (results, report) = Writer::open(settings, "ml benchmark")
                .await?
                .run(async |writer| {
                    let session = transform::open_session(&writer.lake, &writer.settings).await?;
                    let targets = args.target.targets();
                    Ok(
                        benchmark::run(&session, &writer.lease, &targets, args.plot.as_deref())
                            .await?,
                    )
                })
                .await?;
            let summary = RunSummary::new(vec![report], started);
            Ok(print_results(
                &summary,
                args.summary.format,
                "benchmarks",
                &results,
                || {
                    println!("{}", benchmark_table(&results));
                },
            ))
        }
        MlCommand::Predict(args) => {
            let started = Instant::now();
            let options = PredictOptions {
                targets: args.target.targets(),
                horizon_slots: args.horizon_slots,
                run_id: args.run_id,
            };
            let (runs, report) = Writer::open(settings, "ml predict")
                .await?
                .run(async |writer| {
                    let session = transform::open_session(&writer.lake, &writer.settings).await?;
                    Ok(predict::run(&session, &writer.lease, &options).await?)
                })
                .await?;
            let summary = RunSummary::new(vec![report], started);
            Ok(print_results(
                &summary,
                args.summary.format,
                "predictions",
                &runs,
                || {
                    println!("{}", prediction_table(&runs));
                },
            ))
        }
    }
}

/// Print `results` and the summary: a table, or one JSON document with both.
fn print_results<T: serde::Serialize>(
    summary: &RunSummary,
    format: ReportFormat,
    name: &str,
    results: &T,
    table: impl FnOnce(),
) -> i32 {
    match format {
        ReportFormat::Table => {
            table();
            print_summary(summary, format)
        }
        ReportFormat::Json => {
            let document = serde_json::json!({ "summary": summary, name: results });
            println!("{}", serde_json::to_string_pretty(&document).expect("json"));
            crate::ops::exit::OK
        }
    }
}

/// The comparison table of benchmarks: one row per model and baseline.
pub fn benchmark_table(results: &[TargetBenchmark]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header([
        "target",
        "model",
        "auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "mape %",
        "msd",
        "mae",
        "rmse",
        "selected",
    ]);
    let number = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    for result in results {
        for score in &result.scores {
            let m = &score.metrics;
            table.add_row([
                result.target.to_string(),
                score.model.clone(),
                number(m.auc),
                number(m.accuracy),
                number(m.precision),
                number(m.recall),
                number(m.f1),
                number(m.mape),
                number(m.msd),
                number(m.mae),
                number(m.rmse),
                if score.selected {
                    "✓".into()
                } else {
                    String::new()
                },
            ]);
        }
    }
    table
}

fn prediction_table(runs: &[PredictionRun]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header([
        "target",
        "model",
        "run id",
        "backtest rows",
        "forecast rows",
        "horizon",
        "model saved",
    ]);
    for run in runs {
        table.add_row([
            run.target.to_string(),
            run.model.clone(),
            run.run_id.clone(),
            run.backtest_rows.to_string(),
            run.forecast_rows.to_string(),
            format!("{} slots", run.horizon_slots),
            run.model_path.clone(),
        ]);
    }
    table
}
