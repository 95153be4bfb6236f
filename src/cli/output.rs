//! Printing results: query results as table, CSV (with a header row) or JSON; step summaries as
//! a table or JSON. Formatting is kept apart from execution.

use std::io::Write;

use clap::ValueEnum;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::error::{Error, Result};
use crate::ops::exit;
use crate::ops::report::RunSummary;

/// Format of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Csv,
    Json,
}

/// `--format` of the commands that print query results.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ResultFormatArgs {
    /// Result format.
    #[arg(
        long,
        value_enum,
        env = "OUTPUT_FORMAT",
        default_value = "table",
        help_heading = "Output"
    )]
    pub format: OutputFormat,
}

/// Format of step summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    #[default]
    Table,
    Json,
}

/// Write query results to `out`.
pub fn write_batches(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: OutputFormat,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("writing results", e);
    let arrow = |e: datafusion::arrow::error::ArrowError| {
        Error::io("formatting results", std::io::Error::other(e))
    };
    match format {
        OutputFormat::Table => {
            let table = pretty_format_batches(batches).map_err(arrow)?;
            writeln!(out, "{table}").map_err(io)?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" }).map_err(io)?;
        }
        OutputFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                return Ok(());
            }
            for batch in batches {
                writer.write(batch).map_err(arrow)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs).map_err(arrow)?;
            writer.finish().map_err(arrow)?;
            if batches.iter().all(|b| b.num_rows() == 0) {
                write!(out, "[]").map_err(io)?;
            }
            writeln!(out).map_err(io)?;
        }
    }
    Ok(())
}

/// Print a run summary on stdout; the exit code it calls for (`exit::OK`, or `exit::PARTIAL`
/// when a step failed on its own).
/// The summary the command printed, for `_ops.runs` (one command per process).
static PRINTED: std::sync::Mutex<Option<RunSummary>> = std::sync::Mutex::new(None);

/// The summary printed by this process's command, if it printed one.
pub fn printed_summary() -> Option<RunSummary> {
    PRINTED.lock().map(|s| s.clone()).unwrap_or_default()
}

pub fn print_summary(summary: &RunSummary, format: ReportFormat) -> i32 {
    if let Ok(mut printed) = PRINTED.lock() {
        *printed = Some(summary.clone());
    }
    match format {
        ReportFormat::Table => println!("{}", summary.to_table()),
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(summary).expect("summary serializes")
        ),
    }
    if summary.warnings() > 0 && format == ReportFormat::Table {
        eprintln!(
            "warning: {} problem(s) were counted and kept; see the notes above",
            summary.warnings()
        );
    }
    let failed: Vec<&str> = summary.failed().map(|s| s.step.as_str()).collect();
    if failed.is_empty() {
        return exit::OK;
    }
    eprintln!(
        "error: {} failed (see the summary); the other steps were done",
        failed.join(", ")
    );
    exit::PARTIAL
}
