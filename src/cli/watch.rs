//! `datacycle watch`: the scheduler of `schedule::watch` driving the pipeline's steps. Each
//! window takes the writer lease for its own run only (publish, which only reads the lake, takes
//! none), so other commands can run between windows; each records its steps in `_ops.runs`.

use std::time::Instant;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use clap::Args;

use super::maintenance::{compact_tables, vacuum_tables};
use super::output::ReportFormat;
use super::pipeline::{
    Writer, build_layers, build_sensors, expire_all, isolated, publish_gold, skipped,
    snapshot_reference,
};
use super::{
    BuildLayer, BuildTuningArgs, LakeArgs, ModelArgs, PostgresArgs, ReferenceArgs, RetentionArgs,
    ShareArgs, SummaryArgs, WeatherArgs,
};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::{Lake, LakeSession, runs};
use crate::ml;
use crate::ops::report::StepReport;
use crate::schedule::clock::{SimulatedClock, Stop, SystemClock};
use crate::schedule::watch::{Jobs, Scheduler, WatchSummary};
use crate::schedule::windows::{Cadence, Plan, Window};
use crate::{sources, transform};

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub share: ShareArgs,
    #[command(flatten)]
    pub tuning: BuildTuningArgs,
    #[command(flatten)]
    pub weather: WeatherArgs,
    #[command(flatten)]
    pub reference: ReferenceArgs,
    #[command(flatten)]
    pub postgres: PostgresArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

/// When each window of `watch` falls due (local times in REPORTING_TIMEZONE).
#[derive(Debug, Args)]
#[command(next_help_heading = "Schedule")]
pub struct ScheduleArgs {
    /// Seconds between sensor ticks (landing → bronze → silver → gold of the dirty days).
    #[arg(long, env = "TICK_SECONDS", default_value_t = 60)]
    pub tick_seconds: u64,
    /// Minutes between publishes to PostgreSQL (when DB_URL is set).
    #[arg(long, env = "GOLD_INTERVAL_MIN", default_value_t = 15)]
    pub gold_interval_min: u64,
    /// Hour of the daily weather and reference window, then `ml predict` (and on the first of
    /// the month `ml benchmark`).
    #[arg(long, env = "WEATHER_HOUR", default_value_t = 7)]
    pub weather_hour: u32,
    /// Minute of the daily weather window.
    #[arg(long, env = "WEATHER_MIN", default_value_t = 30)]
    pub weather_min: u32,
    /// Hour of the nightly maintenance: full share scan, compaction, checkpoints, vacuum,
    /// retention.
    #[arg(long, env = "MAINTENANCE_HOUR", default_value_t = 2)]
    pub maintenance_hour: u32,
    /// Nightly vacuum keeps every file the versions of the last N hours need.
    #[arg(long, env = "VACUUM_RETAIN_HOURS", default_value_t = super::maintenance::SAFE_RETAIN_HOURS)]
    pub vacuum_retain_hours: u64,
    /// Target size of the files nightly compaction writes, in MiB.
    #[arg(long, env = "COMPACT_TARGET_SIZE_MB", default_value_t = 128)]
    pub compact_target_size: u64,
    /// Nightly compaction drops Delta log files older than N hours that a checkpoint covers.
    #[arg(long, env = "LOG_RETAIN_HOURS", default_value_t = super::maintenance::SAFE_RETAIN_HOURS)]
    pub log_retain_hours: u64,
    /// Stop once no window is due before this time (RFC 3339) [default: run until SIGTERM].
    #[arg(long, env = "WATCH_UNTIL")]
    pub until: Option<DateTime<Utc>>,
    /// Run in simulated time from this instant (RFC 3339): no waiting between windows, steps
    /// see the simulated time. For tests and replays of historical feeds; needs --until.
    #[arg(long, env = "WATCH_SIMULATE_FROM", requires = "until")]
    pub simulate_from: Option<DateTime<Utc>>,
}

impl ScheduleArgs {
    /// What the nightly window does besides the full scan.
    fn maintenance(&self) -> Maintenance {
        Maintenance {
            vacuum_retain_hours: self.vacuum_retain_hours,
            compact_target_mib: self.compact_target_size,
            log_retain_hours: self.log_retain_hours,
        }
    }

    /// The windows the settings enable: sources that are not configured have none.
    fn plan(&self, settings: &Settings) -> Result<Plan> {
        let at = |hour: u32, minute: u32, name: &str| {
            NaiveTime::from_hms_opt(hour, minute, 0).ok_or_else(|| {
                Error::config(format!(
                    "{name}: {hour:02}:{minute:02} is not a time of day"
                ))
            })
        };
        if self.tick_seconds == 0 || self.gold_interval_min == 0 {
            return Err(Error::config(
                "TICK_SECONDS and GOLD_INTERVAL_MIN must be at least 1",
            ));
        }
        let daily = at(
            self.weather_hour,
            self.weather_min,
            "WEATHER_HOUR:WEATHER_MIN",
        )?;
        let nightly = at(self.maintenance_hour, 0, "MAINTENANCE_HOUR")?;
        let mut windows = vec![(
            Window::Tick,
            Cadence::Every(Duration::seconds(self.tick_seconds as i64)),
        )];
        if settings.weather.is_some() {
            windows.push((Window::Weather, Cadence::DailyAt(daily)));
        }
        if settings.reference.is_some() {
            windows.push((Window::Reference, Cadence::DailyAt(daily)));
        }
        windows.extend([
            (Window::Benchmark, Cadence::MonthlyAt(daily)),
            (Window::Predict, Cadence::DailyAt(daily)),
            (Window::Maintenance, Cadence::DailyAt(nightly)),
        ]);
        if settings.db_url.is_some() {
            windows.push((
                Window::Publish,
                Cadence::Every(Duration::minutes(self.gold_interval_min as i64)),
            ));
        }
        Ok(Plan {
            zone: settings.reporting_timezone,
            windows,
        })
    }
}

pub async fn run(settings: &Settings, args: WatchArgs) -> Result<i32> {
    let lake = Lake::open(&settings.lake_url)?;
    let plan = args.schedule.plan(settings)?;
    let stop = Stop::new();
    listen_for_signals(stop.clone())?;
    let jobs = PipelineJobs {
        settings: settings.clone(),
        lake: lake.clone(),
        schedule: args.schedule.maintenance(),
        session: None,
    };
    let names: Vec<&str> = plan.windows.iter().map(|(w, _)| w.name()).collect();
    tracing::info!("watch: windows {}", names.join(", "));
    let summary = match args.schedule.simulate_from {
        Some(start) => {
            let clock = SimulatedClock::driving_the_process_from(start);
            let scheduler = Scheduler::new(&lake, plan, jobs, clock, stop).await?;
            scheduler.until(args.schedule.until).run().await
        }
        None => {
            let scheduler = Scheduler::new(&lake, plan, jobs, SystemClock, stop).await?;
            scheduler.until(args.schedule.until).run().await
        }
    };
    print_summary(&summary, args.summary.format);
    Ok(crate::ops::exit::OK)
}

/// The first SIGTERM or SIGINT asks the loop to stop after the running window; a second one
/// ends the process at once (every step is crash-safe; the lease expires or is taken over).
fn listen_for_signals(stop: std::sync::Arc<Stop>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let io = |e| Error::io("installing the SIGTERM/SIGINT handlers", e);
    let mut term = signal(SignalKind::terminate()).map_err(io)?;
    let mut int = signal(SignalKind::interrupt()).map_err(io)?;
    tokio::spawn(async move {
        for n in 0.. {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            if n > 0 {
                tracing::warn!("watch: second signal, exiting now");
                std::process::exit(crate::ops::exit::FAILURE);
            }
            tracing::info!("watch: stopping after the running step (a second signal exits now)");
            stop.request();
        }
    });
    Ok(())
}

fn print_summary(summary: &WatchSummary, format: ReportFormat) {
    match format {
        ReportFormat::Json => {
            println!("{}", serde_json::to_string_pretty(summary).expect("json"));
        }
        ReportFormat::Table => {
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
            table.set_header([
                "window",
                "runs",
                "failed",
                "missed",
                "last slot",
                "last",
                "seconds",
            ]);
            for (window, tally) in &summary.windows {
                table.add_row([
                    window.to_string(),
                    tally.runs.to_string(),
                    tally.failed.to_string(),
                    tally.missed.to_string(),
                    tally
                        .last_slot
                        .map_or_else(|| "-".into(), |t| t.to_rfc3339()),
                    tally.last_outcome.unwrap_or("-").to_string(),
                    format!("{:.1}", tally.seconds),
                ]);
            }
            println!("{table}");
            let end = if summary.stopped {
                "stopped by signal"
            } else {
                "until reached"
            };
            println!("watch ended ({end})");
        }
    }
}

/// What the nightly window does besides the full scan.
#[derive(Debug, Clone, Copy)]
struct Maintenance {
    vacuum_retain_hours: u64,
    compact_target_mib: u64,
    log_retain_hours: u64,
}

/// The pipeline's steps behind each window.
struct PipelineJobs {
    settings: Settings,
    lake: Lake,
    schedule: Maintenance,
    /// One session for the whole watch, refreshed at the start of every window (only the commits
    /// since are read), instead of every table opened anew each minute.
    session: Option<LakeSession>,
}

impl Jobs for PipelineJobs {
    async fn run(&mut self, window: Window, _slot: DateTime<Utc>) -> Result<Vec<StepReport>> {
        let started_at = crate::ops::clock::now();
        let started = Instant::now();
        let result = self.run_window(window).await;
        let steps = match result {
            Ok(steps) => steps,
            Err(e) => {
                // The session may hold a half-refreshed view: the next window opens a new one.
                self.session = None;
                vec![StepReport::failure(window.name(), &e.to_string(), started)]
            }
        };
        let command = format!("watch {window}");
        if let Err(e) = runs::record(&self.lake, &command, started_at, &steps).await {
            tracing::warn!("could not record the run in _ops.runs: {e}");
        }
        Ok(steps)
    }
}

impl PipelineJobs {
    /// The session of this watch, brought up to date.
    async fn session(&mut self) -> Result<LakeSession> {
        match &self.session {
            Some(session) => session.refresh_all().await?,
            None => self.session = Some(transform::open_session(&self.lake, &self.settings).await?),
        }
        Ok(self.session.clone().expect("just set"))
    }

    async fn run_window(&mut self, window: Window) -> Result<Vec<StepReport>> {
        if window == Window::Publish {
            let Some(url) = self.settings.db_url.clone() else {
                return Ok(vec![skipped("publish", "DB_URL")]);
            };
            let session = self.session().await?;
            let publish = publish_gold(&session, &self.settings, &url, false);
            return Ok(vec![isolated("publish", publish).await?]);
        }
        let writer = Writer::open(&self.settings, &format!("watch {window}")).await?;
        let schedule = self.schedule;
        writer
            .run(async |writer| {
                // Landing first: the session is brought up to date after it, so the build
                // sees what this window landed.
                let mut steps = land(writer, window).await?;
                let session = self.session().await?;
                steps.extend(build(writer, &session, window, schedule).await?);
                Ok(steps)
            })
            .await
    }
}

/// The landing steps of a window (they write no table a session reads from before them).
async fn land(writer: &Writer, window: Window) -> Result<Vec<StepReport>> {
    let (lake, settings, lease) = (&writer.lake, &writer.settings, &writer.lease);
    let full_scan = window == Window::Maintenance;
    Ok(match window {
        Window::Tick | Window::Maintenance if settings.smb_path.is_some() => {
            let ingest = sources::smb::ingest(lake, settings, lease, full_scan);
            vec![isolated("ingest sensors", ingest).await?]
        }
        Window::Weather => {
            let ingest = sources::weather::ingest(lake, settings, lease);
            vec![isolated("ingest weather", ingest).await?]
        }
        _ => Vec::new(),
    })
}

/// The steps of a window after landing, with the lease held.
async fn build(
    writer: &Writer,
    session: &LakeSession,
    window: Window,
    maintenance: Maintenance,
) -> Result<Vec<StepReport>> {
    let mut steps = Vec::new();
    match window {
        Window::Tick => steps.extend(build_sensors(writer, session).await?),
        Window::Maintenance => {
            steps.extend(build_layers(writer, session, BuildLayer::All, false).await?);
            steps.extend(nightly(writer, maintenance).await?);
        }
        Window::Weather => {
            steps.extend(build_layers(writer, session, BuildLayer::All, false).await?);
        }
        Window::Reference => {
            if let Some(source) = &writer.settings.reference {
                let snapshot = snapshot_reference(writer, session, source);
                steps.push(isolated("ingest reference", snapshot).await?);
            }
            steps.extend(build_layers(writer, session, BuildLayer::All, false).await?);
        }
        Window::Benchmark => steps.extend(benchmark(writer, session).await?),
        Window::Predict => steps.extend(predict(writer, session).await?),
        Window::Publish => unreachable!("publish takes no lease"),
    }
    Ok(steps)
}

/// Compaction (with checkpoints and expired logs), vacuum and retention.
async fn nightly(writer: &Writer, maintenance: Maintenance) -> Result<Vec<StepReport>> {
    let mut steps = compact_tables(
        writer,
        None,
        maintenance.compact_target_mib,
        maintenance.log_retain_hours,
    )
    .await?;
    steps.extend(vacuum_tables(writer, None, maintenance.vacuum_retain_hours, false).await?);
    steps.extend(expire_all(writer, false).await?);
    Ok(steps)
}

/// `ml benchmark` of every target; too little data is a note, not a failure.
async fn benchmark(writer: &Writer, session: &LakeSession) -> Result<Vec<StepReport>> {
    let started = Instant::now();
    let result = ml::benchmark::run(session, &writer.lease, &ml::Target::ALL, None).await;
    ml_outcome("ml benchmark", result.map(|(_, report)| report), started)
}

/// Whether a benchmark has selected models (`gold.ml_benchmark` exists).
async fn benchmarked(session: &LakeSession) -> Result<bool> {
    session.refresh(&ml::benchmark::table()).await?;
    Ok(session.registered(&ml::benchmark::table()).is_some())
}

/// `ml predict` of every target with its selected model; benchmarks first when none ever ran.
async fn predict(writer: &Writer, session: &LakeSession) -> Result<Vec<StepReport>> {
    let started = Instant::now();
    let mut steps = Vec::new();
    if !benchmarked(session).await? {
        steps.extend(benchmark(writer, session).await?);
        if !benchmarked(session).await? {
            let mut report = StepReport::new("ml predict");
            report
                .notes
                .push("skipped: no model benchmarked yet".into());
            steps.push(report.finish(started));
            return Ok(steps);
        }
    }
    let options = ml::predict::PredictOptions {
        targets: ml::Target::ALL.to_vec(),
        ..Default::default()
    };
    let result = ml::predict::run(session, &writer.lease, &options).await;
    steps.extend(ml_outcome(
        "ml predict",
        result.map(|(_, report)| report),
        started,
    )?);
    Ok(steps)
}

fn ml_outcome(
    step: &str,
    result: std::result::Result<StepReport, ml::MlError>,
    started: Instant,
) -> Result<Vec<StepReport>> {
    match result {
        Ok(report) => Ok(vec![report]),
        // Too few days yet: the next window tries again.
        Err(e @ ml::MlError::NoData { .. }) => {
            let mut report = StepReport::new(step);
            report.notes.push(format!("skipped: {e}"));
            Ok(vec![report.finish(started)])
        }
        // Data a model cannot learn from (one class only): retrying changes nothing until the
        // data does.
        Err(e @ ml::MlError::Invalid { .. }) => {
            let mut report = StepReport::new(step);
            report.warn("not_learnable", e.to_string());
            Ok(vec![report.finish(started)])
        }
        Err(e) if e.exit_code() == crate::ops::exit::LOCKED => Err(e.into()),
        Err(e) => Ok(vec![StepReport::failed(step, &e.to_string(), started)]),
    }
}
