//! `datacycle demo`: the main job on a small generated data set in the embedded default lake.

use std::time::Instant;

use clap::Args;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Int64Type;

use super::output::{OutputFormat, ReportFormat, print_summary, write_batches};
use super::pipeline::{Writer, rebuild_all};
use crate::config::ReferenceSource;
use crate::config::{Settings, WeatherSource};
use crate::error::{Error, Result};
use crate::generate::{GenerateOptions, generate};
use crate::lake::{Lake, LakeSession};
use crate::ml::{self, benchmark::TargetBenchmark};
use crate::ops::report::{RunSummary, StepReport};
use crate::transform;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Days of generated data (the energy model's features look a week back: at least 9 days
    /// for the ML part).
    #[arg(long, env = "DEMO_DAYS", default_value_t = 14)]
    pub days: u32,
    #[command(flatten)]
    pub lake: super::LakeArgs,
    #[command(flatten)]
    pub model: super::ModelArgs,
    #[command(flatten)]
    pub tuning: super::BuildTuningArgs,
    #[command(flatten)]
    pub postgres: super::PostgresArgs,
    #[command(flatten)]
    pub summary: super::SummaryArgs,
}

pub async fn run(settings: &Settings, args: DemoArgs) -> Result<i32> {
    let started = Instant::now();
    let lake = Lake::open(&settings.lake_url)?;
    let root = lake.local_root().ok_or_else(|| {
        Error::config("demo runs on a local lake folder; for S3 lakes use `generate` and `rebuild`")
    })?;
    let mut options = GenerateOptions::new(root.join("_demo").join("sources"));
    options.days = args.days;
    let generating = Instant::now();
    let generated = tokio::task::spawn_blocking(move || generate(&options))
        .await
        .map_err(|e| Error::io("generator thread", std::io::Error::other(e.to_string())))??;
    let mut generate_report = StepReport::new("generate sources");
    for r in &generated.reports {
        generate_report.files += r.files;
        generate_report.bytes += r.bytes;
    }

    let mut demo_settings = settings.clone();
    demo_settings.smb_path = Some(generated.smb.clone());
    demo_settings.house_map = generated.house_map.clone();
    demo_settings.weather = Some(WeatherSource::Local(generated.sftp.clone()));
    demo_settings.reference = Some(ReferenceSource::Folder(generated.mysql.clone()));
    let mut steps = vec![generate_report.finish(generating)];
    let (rebuilt, benchmarks, (tables, headlines)) = Writer::open(&demo_settings, "demo")
        .await?
        .run(async |writer| {
            let rebuilt = rebuild_all(writer, false).await?;
            let (benchmarks, ml_steps) = machine_learning(writer).await;
            Ok((
                rebuilt.into_iter().chain(ml_steps).collect::<Vec<_>>(),
                benchmarks,
                lake_figures(writer).await?,
            ))
        })
        .await?;
    steps.extend(rebuilt);
    let summary = RunSummary::new(steps, started);
    let code = match args.summary.format {
        ReportFormat::Table => {
            let code = print_summary(&summary, args.summary.format);
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
            table.set_header(["table", "rows"]);
            for (name, rows) in &tables {
                table.add_row([name.clone(), rows.to_string()]);
            }
            println!("{table}");
            if !benchmarks.is_empty() {
                println!("{}", super::ml::benchmark_table(&benchmarks));
            }
            write_batches(
                &mut std::io::stdout().lock(),
                &headlines,
                OutputFormat::Table,
            )?;
            println!(
                "lake: {}\nquery it:  cargo run --release -- sql -c \"SELECT * FROM gold.dim_room ORDER BY apartment_id, room_name\"\n\
                 publish it to PostgreSQL (Power BI, KNIME: docs/power-bi.md):\n  \
                 export DB_URL=postgresql://datacycle_app:<password>@<host>:5432/datacycle\n  \
                 DB_ADMIN_URL=postgresql://postgres:<password>@<host>:5432/postgres cargo run --release -- pg init\n  \
                 cargo run --release -- publish",
                lake.url()
            );
            code
        }
        ReportFormat::Json => {
            println!(
                "{}",
                // One document: the run summary with the lake's tables and headline numbers.
                serde_json::to_string_pretty(&serde_json::json!({
                    "summary": summary,
                    "tables": tables,
                    "benchmarks": benchmarks,
                    "headlines": json_rows(&headlines)?,
                }))
                .expect("json")
            );
            if summary.failed().next().is_some() {
                crate::ops::exit::PARTIAL
            } else {
                crate::ops::exit::OK
            }
        }
    };
    Ok(code)
}

/// `ml benchmark` and `ml predict` on the demo's data. A failure is a failed step of the
/// summary (e.g. too few days for the energy features), not the end of the demo.
async fn machine_learning(writer: &Writer) -> (Vec<TargetBenchmark>, Vec<StepReport>) {
    let started = Instant::now();
    let result: Result<_> = async {
        let session = transform::open_session(&writer.lake, &writer.settings).await?;
        let (benchmarks, benchmark_report) =
            ml::benchmark::run(&session, &writer.lease, &ml::Target::ALL, None).await?;
        let options = ml::predict::PredictOptions {
            targets: ml::Target::ALL.to_vec(),
            ..Default::default()
        };
        let (_, predict_report) = ml::predict::run(&session, &writer.lease, &options).await?;
        Ok((benchmarks, vec![benchmark_report, predict_report]))
    }
    .await;
    match result {
        Ok(done) => done,
        // Too few days for a feature table: the rest of the demo stands.
        Err(Error::Ml(e @ ml::MlError::NoData { .. })) => {
            let mut report = StepReport::new("ml");
            report.notes.push(format!("skipped: {e} (try --days 14)"));
            (Vec::new(), vec![report.finish(started)])
        }
        Err(e) => (
            Vec::new(),
            vec![StepReport::failed("ml", &e.to_string(), started)],
        ),
    }
}

/// (table, rows) of every lake table, and the headline numbers of gold.
async fn lake_figures(writer: &Writer) -> Result<(Vec<(String, i64)>, Vec<RecordBatch>)> {
    let session = transform::open_session(&writer.lake, &writer.settings).await?;
    let plan = transform::plan_query(&session, &crate::catalog::queries::DEMO_HEADLINES).await?;
    let headlines = session
        .ctx()
        .execute_logical_plan(plan)
        .await
        .map_err(transform::TransformError::from)?
        .collect()
        .await
        .map_err(transform::TransformError::from)?;
    Ok((table_rows(&writer.lake, &session).await?, headlines))
}

/// Rows of `batches` as JSON objects.
fn json_rows(batches: &[RecordBatch]) -> Result<serde_json::Value> {
    let mut out = Vec::new();
    write_batches(&mut out, batches, OutputFormat::Json)?;
    serde_json::from_slice(&out)
        .map_err(|e| Error::io("formatting headlines", std::io::Error::other(e)))
}

/// (table, rows) of every lake table.
async fn table_rows(lake: &Lake, session: &LakeSession) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for table in lake.list_tables().await? {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        let batches = session
            .ctx()
            .sql(&sql)
            .await
            .map_err(transform::TransformError::from)?
            .collect()
            .await
            .map_err(transform::TransformError::from)?;
        let rows = batches
            .first()
            .map(|b| b.column(0).as_primitive::<Int64Type>().value(0))
            .unwrap_or(0);
        out.push((table.to_string(), rows));
    }
    Ok(out)
}
