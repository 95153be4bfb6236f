//! `datacycle sql`: run SQL against the lake.

use std::path::PathBuf;

use clap::Args;
use datafusion::sql::parser::DFParser;

use super::output::{OutputFormat, write_batches};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::transform::{self, TransformError};

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL to run (several statements separated by `;`).
    #[arg(short = 'c', long = "command")]
    pub command: Option<String>,
    /// File of SQL statements to run.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Result format.
    #[arg(long, value_enum, env = "OUTPUT_FORMAT", default_value = "table")]
    pub format: OutputFormat,
}

pub async fn run(settings: &Settings, args: SqlArgs) -> Result<i32> {
    let text = match (&args.command, &args.file) {
        (Some(command), None) => command.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .map_err(|e| Error::io(format!("reading {}", file.display()), e))?,
        _ => {
            return Err(Error::Config(
                "pass exactly one of -c <SQL> or -f <file>".into(),
            ));
        }
    };
    let lake = Lake::open(&settings.lake_url)?;
    let session = transform::open_session(&lake, settings).await?;
    let ctx = session.ctx();
    let statements = DFParser::parse_sql(&text).map_err(TransformError::from)?;
    let mut stdout = std::io::stdout().lock();
    for statement in statements {
        let plan = ctx
            .state()
            .statement_to_plan(statement)
            .await
            .map_err(TransformError::from)?;
        let batches = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(TransformError::from)?
            .collect()
            .await
            .map_err(TransformError::from)?;
        if batches.iter().any(|b| b.num_columns() > 0) || args.format != OutputFormat::Table {
            write_batches(&mut stdout, &batches, args.format)?;
        }
    }
    Ok(0)
}
