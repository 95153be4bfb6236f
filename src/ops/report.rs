//! Step reports: every long step ends with files, rows, bytes, seconds and throughput, printed as
//! a table for people or as JSON for machines.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

/// What one step did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StepReport {
    pub step: String,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// Problems that did not stop the step (quarantined files, unknown houses, ...).
    pub warnings: u64,
    /// Step-specific counters, e.g. `quarantined`, `skipped_unknown_house`.
    pub counters: BTreeMap<String, u64>,
    /// One line per notable event (a skipped source, a quarantined file).
    pub notes: Vec<String>,
    /// Why the step failed, when it failed on its own and the command went on without it (an
    /// unreachable source in `rebuild`); secrets masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StepReport {
    pub fn new(step: impl Into<String>) -> Self {
        Self {
            step: step.into(),
            ..Default::default()
        }
    }

    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn count(&mut self, counter: &str, n: u64) {
        if n > 0 {
            *self.counters.entry(counter.to_string()).or_default() += n;
        }
    }

    /// A problem that does not stop the step: logged, counted under `counter` and noted.
    pub fn warn(&mut self, counter: &str, message: String) {
        tracing::warn!("{message}");
        self.count(counter, 1);
        self.warnings += 1;
        self.notes.push(message);
    }

    /// The report of a step that failed with `error` after `started`; the failure is logged.
    pub fn failed(step: impl Into<String>, error: &str, started: Instant) -> Self {
        let report = Self::failure(step, error, started);
        tracing::error!(
            "{} failed: {}",
            report.step,
            report.error.as_deref().unwrap_or_default()
        );
        report
    }

    /// The report of a step that failed with `error`, without logging it (an error the
    /// command itself reports).
    pub fn failure(step: impl Into<String>, error: &str, started: Instant) -> Self {
        Self {
            step: step.into(),
            error: Some(super::secrets::redact(error).into_owned()),
            ..Default::default()
        }
        .finish(started)
    }

    pub fn counter(&self, counter: &str) -> u64 {
        self.counters.get(counter).copied().unwrap_or(0)
    }

    /// Stop the clock started at `started`.
    pub fn finish(mut self, started: Instant) -> Self {
        self.seconds = started.elapsed().as_secs_f64();
        self
    }
}

/// The reports of one command.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub steps: Vec<StepReport>,
    pub seconds: f64,
}

impl RunSummary {
    /// The steps of a command that started at `started`.
    pub fn new(steps: Vec<StepReport>, started: Instant) -> Self {
        Self {
            steps,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    pub fn warnings(&self) -> u64 {
        self.steps.iter().map(|s| s.warnings).sum()
    }

    /// The steps that failed on their own.
    pub fn failed(&self) -> impl Iterator<Item = &StepReport> {
        self.steps.iter().filter(|s| s.error.is_some())
    }

    /// Human-readable table of the steps.
    pub fn to_table(&self) -> String {
        let mut table = comfy_table::Table::new();
        table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
        table.set_header([
            "step", "files", "rows", "bytes", "seconds", "rows/s", "warnings",
        ]);
        for s in &self.steps {
            let name = match s.error {
                Some(_) => format!("{} (FAILED)", s.step),
                None => s.step.clone(),
            };
            table.add_row([
                name,
                s.files.to_string(),
                s.rows.to_string(),
                human_bytes(s.bytes),
                format!("{:.2}", s.seconds),
                format!("{:.0}", s.rows_per_second()),
                s.warnings.to_string(),
            ]);
        }
        let mut out = table.to_string();
        for s in &self.steps {
            let counters: Vec<String> =
                s.counters.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if !counters.is_empty() {
                out.push_str(&format!("\n{}: {}", s.step, counters.join(", ")));
            }
            for note in &s.notes {
                out.push_str(&format!("\n{}: {}", s.step, note));
            }
            if let Some(error) = &s.error {
                out.push_str(&format!("\n{}: FAILED: {error}", s.step));
            }
        }
        out.push_str(&format!("\ntotal: {:.2} s", self.seconds));
        out
    }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
