//! `datacycle sql`: SQL against the lake, read-only — an interactive shell on a terminal,
//! otherwise the statements of `-c`, `-f` or stdin. Results print as table, CSV or JSON.

mod console;
mod read_only;
mod shell;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::output::ResultFormatArgs;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::transform;
use console::Console;

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL to run (several statements separated by `;`; shell commands such as `\d` on lines
    /// of their own). Without -c or -f, statements are read from stdin, or an interactive shell
    /// opens when stdin is a terminal.
    #[arg(short = 'c', long = "command")]
    pub command: Option<String>,
    /// File of SQL statements (and shell commands) to run.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// History file of the interactive shell [default: $XDG_DATA_HOME/datacycle/sql_history,
    /// or ~/.local/share/datacycle/sql_history].
    #[arg(long, env = "SQL_HISTORY_FILE")]
    pub history_file: Option<PathBuf>,
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
    let script = match (&args.command, &args.file) {
        (Some(command), None) => Some(command.clone()),
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| Error::io(format!("reading {}", file.display()), e))?,
        ),
        (None, None) if std::io::stdin().is_terminal() => None,
        (None, None) => Some(
            std::io::read_to_string(std::io::stdin())
                .map_err(|e| Error::io("reading SQL from stdin", e))?,
        ),
        (Some(_), Some(_)) => return Err(Error::config("pass -c <SQL> or -f <file>, not both")),
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
    let mut console = Console::new(session, args.output.format);
    let result = match script {
        Some(text) => shell::run_script(&mut console, &text).await,
        None => {
            let history = args
                .history_file
                .unwrap_or_else(shell::default_history_file);
            let prompt = match args.as_of {
                Some(as_of) => format!("datacycle@{as_of}> "),
                None => "datacycle> ".to_string(),
            };
            shell::run_interactive(&mut console, &history, &prompt).await
        }
    };
    match result {
        Err(e) if is_missing_file(&e) => Err(crate::lake::LakeError::TimeTravel {
            table: "a table of the query".into(),
            as_of: args
                .as_of
                .map_or_else(|| "the version asked for".into(), |a| a.to_string()),
            reason: format!(
                "a data file of that version is gone — vacuum deletes the files no version \
                     of the last VACUUM_RETAIN_HOURS (default 168) needs, so time travel reaches \
                     back that far; `gdpr erase` deletes the files that held an erased \
                     apartment's rows ({e})"
            ),
        }
        .into()),
        result => result.map(|()| crate::ops::exit::OK),
    }
}

/// Whether `error` is a read of a data file that is not there (local or S3).
fn is_missing_file(error: &Error) -> bool {
    let text = error.to_string();
    text.contains("Object at location") && text.contains("not found")
}
