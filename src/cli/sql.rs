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
    let mut stdout = std::io::stdout().lock();
    session
        .run_statements(&text, |batches| {
            if batches.iter().any(|b| b.num_columns() > 0)
                || args.output.format != OutputFormat::Table
            {
                write_batches(&mut stdout, &batches, args.output.format)?;
            }
            Ok::<_, Error>(())
        })
        .await?;
    Ok(crate::ops::exit::OK)
}
