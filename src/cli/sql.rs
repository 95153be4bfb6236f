//! `datacycle sql`: run SQL against the lake.

use std::path::PathBuf;

use clap::Args;

use super::output::{OutputFormat, ResultFormatArgs, write_batches};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::transform;

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL to run (several statements separated by `;`).
    #[arg(short = 'c', long = "command")]
    pub command: Option<String>,
    /// File of SQL statements to run.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Read every table as it was at this version or time (RFC 3339), e.g. `--as-of 42` or
    /// `--as-of 2023-10-01T12:00:00Z`; tables that did not exist then are left out. Time travel
    /// reaches back VACUUM_RETAIN_HOURS (data files) and LOG_RETAIN_HOURS (log), a week each.
    #[arg(long, env = "SQL_AS_OF")]
    pub as_of: Option<crate::lake::AsOf>,
    #[command(flatten)]
    pub output: ResultFormatArgs,
    #[command(flatten)]
    pub lake: super::LakeArgs,
    #[command(flatten)]
    pub model: super::ModelArgs,
}

pub async fn run(settings: &Settings, args: SqlArgs) -> Result<i32> {
    let text = match (&args.command, &args.file) {
        (Some(command), None) => command.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .map_err(|e| Error::io(format!("reading {}", file.display()), e))?,
        _ => {
            return Err(Error::config("pass exactly one of -c <SQL> or -f <file>"));
        }
    };
    let lake = Lake::open(&settings.lake_url)?;
    let session = transform::open_session(&lake, settings)
        .await?
        .with_runs()
        .await?;
    if let Some(as_of) = args.as_of {
        for table in session.pin(as_of).await? {
            tracing::warn!("{table} has no {as_of} (younger than that): left out");
        }
    }
    let mut stdout = std::io::stdout().lock();
    let result = session
        .run_statements(&text, |batches| {
            if batches.iter().any(|b| b.num_columns() > 0)
                || args.output.format != OutputFormat::Table
            {
                write_batches(&mut stdout, &batches, args.output.format)?;
            }
            Ok::<_, Error>(())
        })
        .await;
    match (result, args.as_of) {
        (Err(e), Some(as_of)) if is_missing_file(&e) => Err(crate::lake::LakeError::TimeTravel {
            table: "a table of the query".into(),
            as_of: as_of.to_string(),
            reason: format!(
                "a data file of that version is gone — vacuum deletes the files no version \
                     of the last VACUUM_RETAIN_HOURS (default 168) needs, so time travel reaches \
                     back that far ({e})"
            ),
        }
        .into()),
        (result, _) => result.map(|()| crate::ops::exit::OK),
    }
}

/// Whether `error` is a read of a data file that is not there (local or S3).
fn is_missing_file(error: &Error) -> bool {
    let text = error.to_string();
    text.contains("Object at location") && text.contains("not found")
}
