//! Logging to stderr (text or JSON) and optionally to daily files, with every registered secret
//! masked and without tearing the progress bars.

use std::io::{IsTerminal, Write};
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use super::progress;
use super::secrets;

/// Target of the event that records the error a command ended with. The text log on stderr
/// leaves it out: the binary prints that error itself, once, as `error: …`.
pub const EXIT_ERROR_TARGET: &str = "datacycle::exit";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Install the global subscriber. Keep the returned guard alive until exit so file logs flush.
pub fn init(
    format: LogFormat,
    level: &str,
    dir: Option<&Path>,
) -> std::io::Result<Option<WorkerGuard>> {
    // A plain level applies to datacycle; libraries (deltalake, the Delta kernel, DataFusion)
    // are chatty below warn. A full filter (`datacycle=debug,deltalake=info`) is used as given.
    let directives = if level.contains('=') || level.contains(',') {
        level.to_string()
    } else {
        format!("warn,datacycle={level}")
    };
    let filter =
        EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("warn,datacycle=info"));
    let (file_layer, guard) = match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let appender = tracing_appender::rolling::daily(dir, "datacycle.log");
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .with_writer(RedactingWriter::new(move || {
                    Box::new(writer.clone()) as Box<dyn Write>
                }));
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let stderr = RedactingWriter::new(|| Box::new(ProgressAwareStderr) as Box<dyn Write>);
    let registry = tracing_subscriber::registry().with(filter).with(file_layer);
    match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(stderr)
                    .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                        meta.target() != EXIT_ERROR_TARGET
                    })),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().with_writer(stderr))
            .try_init(),
    }
    .ok();
    Ok(guard)
}

/// Wraps a writer factory so that every formatted log line is redacted before it is written.
struct RedactingWriter<F> {
    make: F,
}

impl<F> RedactingWriter<F> {
    fn new(make: F) -> Self {
        Self { make }
    }
}

impl<'a, F> MakeWriter<'a> for RedactingWriter<F>
where
    F: Fn() -> Box<dyn Write> + 'a,
{
    type Writer = Redacted;

    fn make_writer(&'a self) -> Self::Writer {
        Redacted {
            inner: (self.make)(),
            buffer: Vec::new(),
        }
    }
}

/// Buffers one event and writes it redacted when dropped.
pub struct Redacted {
    inner: Box<dyn Write>,
    buffer: Vec<u8>,
}

impl Write for Redacted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Redacted {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let _ = self.inner.write_all(secrets::redact(&text).as_bytes());
        let _ = self.inner.flush();
    }
}

/// stderr, with active progress bars hidden while a line is written.
struct ProgressAwareStderr;

impl Write for ProgressAwareStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        progress::suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
