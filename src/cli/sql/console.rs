//! What the SQL shell does with what it reads: SQL statements (checked read-only, run with
//! progress, cancellable in the shell) and backslash commands. The same for the interactive
//! shell, `-c`, `-f` and piped input, so a script can use `\d` or `\format` too.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::sql::parser::DFParser;
use futures::StreamExt;

use super::read_only::refusal;
use crate::cli::output::{OutputFormat, write_batches};
use crate::error::{Error, Result};
use crate::lake::{LakeSession, TableRef, partition_columns, table_reference};

/// How many versions `\history TABLE` lists unless told.
const HISTORY_DEFAULT: usize = 20;

pub const HELP: &str = "\
SQL statements end with `;` and may span lines. The lake's tables are `landing.*`, `bronze.*`,
`silver.*`, `gold.*` and `_ops.runs`; `table_at('silver.sensor_events', 42)` or
`table_at('silver.sensor_events', '2023-10-01T12:00:00Z')` reads one table as it was then.
The shell is read-only. Ctrl-C cancels a running query (and clears the line otherwise).

  \\d                     tables with row counts, files and versions
  \\d TABLE               columns, types, partitioning, version, files of TABLE
  \\history TABLE [N]     the last N (20) versions of TABLE: time, operation, files
  \\timing [on|off]       print how long each statement took
  \\format table|csv|json result format
  \\? or \\help            this help
  \\q                     quit (also Ctrl-D)";

/// What the input asks for after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// The state of one shell or script: its session and display settings.
pub struct Console {
    session: LakeSession,
    pub format: OutputFormat,
    timing: bool,
    /// In the interactive shell, Ctrl-C cancels the running statement and a spinner shows
    /// progress; a script is simply interrupted.
    interactive: Option<Arc<Interrupts>>,
}

/// Ctrl-C presses, counted by a thread of their own (a query keeping every runtime worker busy
/// cannot delay them) and announced to the statement that waits.
#[derive(Default)]
struct Interrupts {
    count: std::sync::atomic::AtomicU64,
    notify: tokio::sync::Notify,
}

impl Interrupts {
    fn listen() -> Result<Arc<Self>> {
        let interrupts = Arc::new(Self::default());
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT])
            .map_err(|e| Error::io("listening for Ctrl-C", e))?;
        let listener = interrupts.clone();
        std::thread::spawn(move || {
            for _ in signals.forever() {
                listener
                    .count
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                listener.notify.notify_waiters();
            }
        });
        Ok(interrupts)
    }

    fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves at the first Ctrl-C after `seen` presses.
    async fn after(&self, seen: u64) {
        loop {
            let notified = self.notify.notified();
            if self.count() > seen {
                return;
            }
            notified.await;
        }
    }
}

impl Console {
    pub fn new(session: LakeSession, format: OutputFormat) -> Self {
        Self {
            session,
            format,
            timing: false,
            interactive: None,
        }
    }

    /// Cancel the running statement on Ctrl-C from now on (SIGINT no longer ends the process).
    /// Call it after the line editor is created: the editor installs a SIGINT handler of its
    /// own, which this one then runs after its own.
    pub fn cancel_on_ctrl_c(&mut self) -> Result<()> {
        self.interactive = Some(Interrupts::listen()?);
        Ok(())
    }

    /// Run the statements of `text` in order; the first failing one ends the run.
    pub async fn run_sql(&mut self, text: &str) -> Result<()> {
        let statements = DFParser::parse_sql(text).map_err(crate::lake::LakeError::from)?;
        for statement in &statements {
            if let Some(reason) = refusal(statement) {
                return Err(Error::config(reason));
            }
        }
        for statement in statements {
            let started = Instant::now();
            let Some(batches) = self.run_cancellable(statement).await? else {
                eprintln!("cancelled");
                continue;
            };
            let mut out = std::io::stdout().lock();
            if batches.iter().any(|b| b.num_columns() > 0) || self.format != OutputFormat::Table {
                write_batches(&mut out, &batches, self.format)?;
            }
            if self.timing {
                writeln!(out, "Time: {:.3} s", started.elapsed().as_secs_f64())
                    .map_err(|e| Error::io("writing results", e))?;
            }
        }
        Ok(())
    }

    /// The result of `statement`, or `None` when Ctrl-C cancelled it (dropping the stream stops
    /// every task of the query).
    async fn run_cancellable(
        &mut self,
        statement: datafusion::sql::parser::Statement,
    ) -> Result<Option<Vec<RecordBatch>>> {
        let Some(interrupts) = self.interactive.clone() else {
            return Ok(Some(collect(&self.session, statement, false).await?));
        };
        // Only a Ctrl-C pressed from now on cancels this statement. The statement runs as a
        // task of its own, so the shell answers even while the query keeps a worker busy;
        // aborting the task drops its streams, which stops every task of the query.
        let seen = interrupts.count();
        let session = self.session.clone();
        let mut query = tokio::spawn(async move { collect(&session, statement, true).await });
        tokio::select! {
            finished = &mut query => match finished {
                Ok(result) => result.map(Some),
                Err(e) => Err(Error::io("running the statement", std::io::Error::other(e))),
            },
            () = interrupts.after(seen) => {
                query.abort();
                Ok(None)
            }
        }
    }

    /// Run the backslash command `line`.
    pub async fn run_command(&mut self, line: &str) -> Result<Flow> {
        let mut words = line.split_whitespace();
        let command = words.next().unwrap_or_default();
        let args: Vec<&str> = words.collect();
        match (command, args.as_slice()) {
            ("\\q" | "\\quit", []) => return Ok(Flow::Quit),
            ("\\?" | "\\help", []) => println!("{HELP}"),
            ("\\d", []) => self.print(self.table_list().await?)?,
            ("\\d", [table]) => {
                let table = lake_table(&self.session, table)?;
                self.print(self.columns(&table).await?)?;
                self.print(self.properties(&table).await?)?;
            }
            ("\\history", [table, rest @ ..]) if rest.len() <= 1 => {
                let limit = match rest {
                    [n] => n.parse().map_err(|_| {
                        Error::config(format!("\\history: `{n}` is not a number of versions"))
                    })?,
                    _ => HISTORY_DEFAULT,
                };
                let table = lake_table(&self.session, table)?;
                self.print(self.history(&table, limit).await?)?;
            }
            ("\\timing", []) => self.timing = !self.timing,
            ("\\timing", ["on"]) => self.timing = true,
            ("\\timing", ["off"]) => self.timing = false,
            ("\\timing", _) => return Err(Error::config("\\timing [on|off]")),
            ("\\format", [format]) => {
                self.format = clap::ValueEnum::from_str(format, true).map_err(|_| {
                    Error::config(format!("\\format: `{format}` is not table, csv or json"))
                })?
            }
            ("\\format", _) => return Err(Error::config("\\format table|csv|json")),
            _ => {
                return Err(Error::config(format!(
                    "unknown command `{line}`; \\? lists the commands"
                )));
            }
        }
        // Confirmations go to stderr: a script's stdout stays its results.
        match command {
            "\\timing" => eprintln!("Timing is {}.", if self.timing { "on" } else { "off" }),
            "\\format" => eprintln!("Output format is {}.", format_name(self.format)),
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn print(&self, batch: RecordBatch) -> Result<()> {
        write_batches(&mut std::io::stdout().lock(), &[batch], self.format)
    }

    /// `\d`: every lake table with its rows, files, bytes and version.
    async fn table_list(&self) -> Result<RecordBatch> {
        let mut rows = Vec::new();
        for table in self.session.tables() {
            if let Some(delta) = self.session.handle(&table).await {
                rows.push(
                    crate::lake::stats::table_stats(self.session.lake(), &table, &delta).await?,
                );
            }
        }
        batch(vec![
            ("table", strings(rows.iter().map(|s| s.table.clone()))),
            ("rows", numbers(rows.iter().map(|s| s.rows as u64))),
            ("files", numbers(rows.iter().map(|s| s.files as u64))),
            ("bytes", numbers(rows.iter().map(|s| s.bytes as u64))),
            (
                "version",
                numbers(rows.iter().map(|s| s.version.unwrap_or(0))),
            ),
        ])
    }

    /// `\d TABLE`: its columns.
    async fn columns(&self, table: &TableRef) -> Result<RecordBatch> {
        let provider = self
            .session
            .ctx()
            .table_provider(table_reference(table))
            .await
            .map_err(crate::lake::LakeError::from)?;
        let delta = self.session.handle(table).await;
        let partitions = delta.as_ref().map(partition_columns).unwrap_or_default();
        let schema = provider.schema();
        let fields = schema.fields();
        batch(vec![
            ("column", strings(fields.iter().map(|f| f.name().clone()))),
            (
                "type",
                strings(fields.iter().map(|f| f.data_type().to_string())),
            ),
            (
                "nullable",
                Arc::new(BooleanArray::from_iter(
                    fields.iter().map(|f| Some(f.is_nullable())),
                )),
            ),
            (
                "partition",
                Arc::new(BooleanArray::from_iter(
                    fields.iter().map(|f| Some(partitions.contains(f.name()))),
                )),
            ),
        ])
    }

    /// `\d TABLE`: its Delta version, files, size, log and location.
    async fn properties(&self, table: &TableRef) -> Result<RecordBatch> {
        let delta = self.delta(table).await?;
        let stats = crate::lake::stats::table_stats(self.session.lake(), table, &delta).await?;
        let human = crate::ops::report::human_bytes;
        let properties = [
            ("version", stats.version.unwrap_or(0).to_string()),
            ("partitioned by", partition_columns(&delta).join(", ")),
            ("rows", stats.rows.to_string()),
            (
                "files",
                format!("{} ({} small)", stats.files, stats.small_files),
            ),
            ("bytes", human(stats.bytes as u64)),
            (
                "log",
                format!("{} files, {}", stats.log_files, human(stats.log_bytes)),
            ),
            (
                "last checkpoint",
                stats
                    .last_checkpoint
                    .map(|v| format!("version {v}"))
                    .unwrap_or("none".into()),
            ),
            ("location", self.session.lake().table_url(table).to_string()),
        ];
        batch(vec![
            (
                "property",
                strings(properties.iter().map(|p| p.0.to_string())),
            ),
            ("value", strings(properties.iter().map(|p| p.1.clone()))),
        ])
    }

    /// The Delta handle of `table`, at the session's version.
    async fn delta(&self, table: &TableRef) -> Result<crate::lake::DeltaTable> {
        self.session
            .handle(table)
            .await
            .ok_or_else(|| Error::config(format!("{table} is not in the lake (yet)")))
    }

    /// `\history TABLE`: its newest versions.
    async fn history(&self, table: &TableRef, limit: usize) -> Result<RecordBatch> {
        let delta = self.delta(table).await?;
        let commits = crate::lake::history(&delta, limit).await?;
        let time = |c: &crate::lake::Commit| c.time.map(|t| t.to_rfc3339()).unwrap_or_default();
        batch(vec![
            ("version", numbers(commits.iter().map(|c| c.version))),
            ("time", strings(commits.iter().map(time))),
            (
                "operation",
                strings(commits.iter().map(|c| c.operation.clone())),
            ),
            (
                "files_added",
                numbers(commits.iter().map(|c| c.files_added)),
            ),
            (
                "files_removed",
                numbers(commits.iter().map(|c| c.files_removed)),
            ),
            (
                "parameters",
                strings(commits.iter().map(|c| c.parameters.clone())),
            ),
        ])
    }
}

/// Run `statement` to the end; `progress` shows a spinner with the rows so far.
async fn collect(
    session: &LakeSession,
    statement: datafusion::sql::parser::Statement,
    progress: bool,
) -> Result<Vec<RecordBatch>> {
    let frame = session.plan(statement).await?;
    let spinner = match progress {
        true => crate::ops::progress::spinner("query"),
        false => indicatif::ProgressBar::hidden(),
    };
    let mut stream = frame
        .execute_stream()
        .await
        .map_err(crate::lake::LakeError::from)?;
    let mut batches = Vec::new();
    let mut rows = 0;
    while let Some(next) = stream.next().await {
        let next = next.map_err(crate::lake::LakeError::from)?;
        rows += next.num_rows();
        spinner.set_message(format!("{rows} rows"));
        batches.push(next);
    }
    spinner.finish_and_clear();
    Ok(batches)
}

fn format_name(format: OutputFormat) -> String {
    clap::ValueEnum::to_possible_value(&format)
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// The lake table `name` names.
fn lake_table(session: &LakeSession, name: &str) -> Result<TableRef> {
    let table: TableRef = name.parse().map_err(Error::config)?;
    match session.tables().contains(&table) {
        true => Ok(table),
        false => Err(Error::config(format!(
            "{table} is not a table of this lake; \\d lists them"
        ))),
    }
}

fn strings(values: impl Iterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn numbers(values: impl Iterator<Item = u64>) -> ArrayRef {
    Arc::new(UInt64Array::from_iter_values(values))
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| crate::lake::LakeError::from(e).into())
}
