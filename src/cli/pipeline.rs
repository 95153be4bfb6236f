//! The pipeline commands: generate, ingest, build and rebuild.

use std::time::Instant;

use super::output::{ReportFormat, print_summary};
use super::{
    BuildArgs, BuildLayer, GenerateArgs, LandingExportArgs, PgInitArgs, PublishArgs, RebuildArgs,
    RetentionCommandArgs,
};
use crate::config::ReferenceSource;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::generate::{GenerateOptions, generate as generate_sources};
use crate::lake::erasures::Erasures;
use crate::lake::{Lake, LakeSession, WriterLease};
use crate::ops::report::{RunSummary, StepReport};
use crate::publish::Server;
use crate::{bronze, publish, sources, transform};

pub async fn generate(args: GenerateArgs) -> Result<i32> {
    let started = Instant::now();
    let options = GenerateOptions {
        out: args.out,
        days: args.days,
        apartments: args.apartments,
        start: args.start,
        seed: args.seed,
        weather_sites: args.weather_sites,
    };
    let generated = tokio::task::spawn_blocking(move || generate_sources(&options))
        .await
        .map_err(|e| {
            crate::error::Error::io("generator thread", std::io::Error::other(e.to_string()))
        })??;
    Ok(print_summary(
        &RunSummary::new(generated.reports, started),
        args.summary.format,
    ))
}

/// `landing export`: reads the lake only, so it takes no lease.
pub async fn landing_export(settings: &Settings, args: LandingExportArgs) -> Result<i32> {
    let started = Instant::now();
    let lake = Lake::open(&settings.lake_url)?;
    let report =
        crate::lake::landing::export::export(&lake, &args.apartment, args.date, &args.out).await?;
    Ok(print_summary(
        &RunSummary::new(vec![report], started),
        args.summary.format,
    ))
}

pub async fn retention(settings: &Settings, args: RetentionCommandArgs) -> Result<i32> {
    write_and_report(settings, "retention", args.summary.format, async |writer| {
        expire_all(writer, args.dry_run).await
    })
    .await
}

/// Landing retention, then the retention of every layer that has one.
pub(super) async fn expire_all(writer: &Writer, dry_run: bool) -> Result<Vec<StepReport>> {
    let (lake, settings, lease) = (&writer.lake, &writer.settings, &writer.lease);
    let mut steps = vec![bronze::retention::expire_landing(lake, settings, lease, dry_run).await?];
    let days = settings.retention_days;
    let predictions = crate::ml::predict::table();
    let device_days = crate::lake::TableRef::silver("device_days");
    for table in lake.list_tables().await? {
        let kept = match table.layer {
            _ if table == predictions => days.predictions,
            // The index of days gold's date dimensions are built from.
            _ if table == device_days => None,
            crate::lake::Layer::Bronze => days.bronze,
            crate::lake::Layer::Silver => days.silver,
            crate::lake::Layer::Gold => days.gold,
            _ => None,
        };
        let Some(kept) = kept else { continue };
        let started = Instant::now();
        let before = crate::ops::clock::now().date_naive() - chrono::Duration::days(kept as i64);
        let expired = crate::lake::retention::expire_days(lake, lease, &table, before, dry_run);
        let Some(expired) = expired.await? else {
            continue;
        };
        let mut report = StepReport::new(format!("retention {table}"));
        report.files = expired.files;
        report.bytes = expired.bytes;
        report.count("partitions", expired.partitions);
        let verb = if dry_run { "would remove" } else { "removed" };
        report.notes.push(format!(
            "{verb} {} day partition(s) before {before} ({kept} days kept)",
            expired.partitions
        ));
        steps.push(report.finish(started));
    }
    if days == crate::config::LayerRetention::default() {
        let mut report = StepReport::new("retention layers");
        report.notes.push(
            "RETENTION_{BRONZE,SILVER,GOLD,PREDICTION}_DAYS unset: every layer is kept".into(),
        );
        steps.push(report);
    }
    Ok(steps)
}

/// A writer's view of the lake: settings, the opened lake and the held lease.
pub(super) struct Writer {
    pub settings: Settings,
    pub lake: Lake,
    pub lease: WriterLease,
}

impl Writer {
    pub async fn open(settings: &Settings, command: &str) -> Result<Self> {
        let lake = Lake::open(&settings.lake_url)?;
        let lease = WriterLease::acquire(&lake, command, settings.lock_wait).await?;
        Ok(Self {
            settings: settings.clone(),
            lake,
            lease,
        })
    }

    /// Run `work` with the lease held and release it afterwards, also when `work` failed, so
    /// the next writer need not wait for it to expire.
    pub async fn run<T>(self, work: impl AsyncFnOnce(&Writer) -> Result<T>) -> Result<T> {
        let result = work(&self).await;
        let released = self.lease.release().await;
        let value = result?;
        released?;
        Ok(value)
    }
}

/// Take the lease for `command`, run `work`, and print the steps it reports.
pub(super) async fn write_and_report(
    settings: &Settings,
    command: &str,
    format: ReportFormat,
    work: impl AsyncFnOnce(&Writer) -> Result<Vec<StepReport>>,
) -> Result<i32> {
    let started = Instant::now();
    let steps = Writer::open(settings, command).await?.run(work).await?;
    Ok(print_summary(&RunSummary::new(steps, started), format))
}

pub async fn ingest_sensors(settings: &Settings, full: bool, format: ReportFormat) -> Result<i32> {
    write_and_report(settings, "ingest sensors", format, async |writer| {
        Ok(vec![
            sources::smb::ingest(&writer.lake, &writer.settings, &writer.lease, full).await?,
        ])
    })
    .await
}

pub async fn ingest_weather(settings: &Settings, format: ReportFormat) -> Result<i32> {
    write_and_report(settings, "ingest weather", format, async |writer| {
        Ok(vec![
            sources::weather::ingest(&writer.lake, &writer.settings, &writer.lease).await?,
        ])
    })
    .await
}

/// Snapshot the reference tables into bronze, then rebuild their silver tables.
pub async fn ingest_reference(settings: &Settings, format: ReportFormat) -> Result<i32> {
    let Some(source) = settings.reference.clone() else {
        return Err(Error::config(
            "no reference source: set MYSQL_URL (a MySQL/MariaDB server) or REFERENCE_SOURCE \
             (a folder of CSV exports)",
        ));
    };
    write_and_report(settings, "ingest reference", format, async |writer| {
        let session = transform::open_session(&writer.lake, &writer.settings).await?;
        Ok(vec![
            snapshot_reference(writer, &session, &source).await?,
            transform::reference_db::build(&session, &writer.settings, &writer.lease, false)
                .await?,
        ])
    })
    .await
}

/// Read every reference table from `source` (all of them before writing anything, so an
/// unreachable server leaves the lake as it was) and write the changed snapshots.
pub(super) async fn snapshot_reference(
    writer: &Writer,
    session: &LakeSession,
    source: &ReferenceSource,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new("ingest reference");
    let fetched = sources::reference::fetch_all(source).await?;
    let (_, erased) = Erasures::load(&writer.lake)
        .await?
        .house_map(&writer.settings.house_map);
    bronze::reference::write_snapshots(session, &writer.lease, fetched, &erased, &mut report)
        .await?;
    Ok(report.finish(started))
}

pub async fn build(settings: &Settings, args: BuildArgs) -> Result<i32> {
    write_and_report(settings, "build", args.summary.format, async |writer| {
        let session = transform::open_session(&writer.lake, &writer.settings).await?;
        build_layers(writer, &session, args.layer, args.full).await
    })
    .await
}

pub async fn rebuild(settings: &Settings, args: RebuildArgs) -> Result<i32> {
    write_and_report(settings, "rebuild", args.summary.format, async |writer| {
        rebuild_all(writer, args.full).await
    })
    .await
}

/// Build the requested layers in order.
pub(super) async fn build_layers(
    writer: &Writer,
    session: &LakeSession,
    layer: BuildLayer,
    full: bool,
) -> Result<Vec<StepReport>> {
    let mut steps = Vec::new();
    let (settings, lease) = (&writer.settings, &writer.lease);
    if matches!(layer, BuildLayer::Bronze | BuildLayer::All) {
        steps.push(bronze::sensors::build(session, settings, lease, full).await?);
        steps.push(bronze::weather::build(session, settings, lease, full).await?);
    }
    if matches!(layer, BuildLayer::Silver | BuildLayer::All) {
        for derivation in transform::silver(settings) {
            steps.push(
                transform::incremental::build(derivation.as_ref(), session, settings, lease, full)
                    .await?,
            );
        }
        steps.push(transform::reference_db::build(session, settings, lease, full).await?);
    }
    if matches!(layer, BuildLayer::Gold | BuildLayer::All) {
        steps.extend(transform::gold::build(session, settings, lease, full).await?);
    }
    Ok(steps)
}

/// What a sensor tick builds: bronze sensors, the silver tables made from them and gold of the
/// dirty days. Forecasts and the reference snapshot change only in their own windows (which
/// build everything), so a tick does not look at them.
pub(super) async fn build_sensors(
    writer: &Writer,
    session: &LakeSession,
) -> Result<Vec<StepReport>> {
    let (settings, lease) = (&writer.settings, &writer.lease);
    let mut steps = vec![bronze::sensors::build(session, settings, lease, false).await?];
    let weather_rows = crate::catalog::tables::weather_rows();
    for derivation in transform::silver(settings) {
        if derivation.input() != weather_rows {
            let step =
                transform::incremental::build(derivation.as_ref(), session, settings, lease, false);
            steps.push(step.await?);
        }
    }
    steps.extend(transform::gold::build(session, settings, lease, false).await?);
    Ok(steps)
}

/// Ingest every configured source (an unconfigured one is skipped with a note), then build.
/// Each source and the publish fail on their own: an unreachable sFTP, MySQL or PostgreSQL is
/// reported (and the exit code says so) while everything else is still built.
pub(super) async fn rebuild_all(writer: &Writer, full: bool) -> Result<Vec<StepReport>> {
    let (lake, settings, lease) = (&writer.lake, &writer.settings, &writer.lease);
    let mut steps = Vec::new();
    if settings.smb_path.is_some() {
        steps.push(
            isolated(
                "ingest sensors",
                sources::smb::ingest(lake, settings, lease, full),
            )
            .await?,
        );
    } else {
        steps.push(skipped("ingest sensors", "SMB_PATH"));
    }
    if settings.weather.is_some() {
        steps.push(
            isolated(
                "ingest weather",
                sources::weather::ingest(lake, settings, lease),
            )
            .await?,
        );
    } else {
        steps.push(skipped("ingest weather", "WEATHER_SOURCE"));
    }
    // Landing steps write no tables, so one session opened now serves the snapshot and the build.
    let session = transform::open_session(lake, settings).await?;
    match &settings.reference {
        Some(source) => steps.push(
            isolated(
                "ingest reference",
                snapshot_reference(writer, &session, source),
            )
            .await?,
        ),
        None => steps.push(skipped("ingest reference", "MYSQL_URL or REFERENCE_SOURCE")),
    }
    steps.extend(build_layers(writer, &session, BuildLayer::All, full).await?);
    match &settings.db_url {
        Some(url) => {
            steps.push(isolated("publish", publish_gold(&session, settings, url, full)).await?)
        }
        None => steps.push(skipped("publish", "DB_URL")),
    }
    Ok(steps)
}

/// A step that may fail without stopping the command: its failure becomes its report. Losing
/// the writer lease still stops everything (another writer owns the lake now).
pub(super) async fn isolated<E: Into<Error>>(
    step: &str,
    work: impl Future<Output = std::result::Result<StepReport, E>>,
) -> Result<StepReport> {
    let started = Instant::now();
    match work.await.map_err(Into::into) {
        Ok(report) => Ok(report),
        Err(error) if error.exit_code() == crate::ops::exit::LOCKED => Err(error),
        Err(error) => Ok(StepReport::failed(step, &error.to_string(), started)),
    }
}

pub(super) async fn publish_gold(
    session: &LakeSession,
    settings: &Settings,
    url: &str,
    full: bool,
) -> Result<StepReport> {
    let server = Server::parse(url, "DB_URL")?;
    Ok(publish::run::publish(session, &server, full, settings.pg_auto_readers).await?)
}

fn db_url(settings: &Settings) -> Result<&str> {
    settings.db_url.as_deref().ok_or_else(|| {
        Error::config("no PostgreSQL: set DB_URL (postgresql://app:password@host:5432/datacycle)")
    })
}

/// `datacycle publish`: reads the lake (no lease: Delta snapshots are consistent), writes
/// PostgreSQL only.
pub async fn publish(settings: &Settings, args: PublishArgs) -> Result<i32> {
    let started = Instant::now();
    let url = db_url(settings)?;
    let lake = Lake::open(&settings.lake_url)?;
    let session = transform::open_session(&lake, settings).await?;
    let step = publish_gold(&session, settings, url, args.full).await?;
    Ok(print_summary(
        &RunSummary::new(vec![step], started),
        args.summary.format,
    ))
}

/// `datacycle pg init`.
pub async fn pg_init(settings: &Settings, args: PgInitArgs) -> Result<i32> {
    let started = Instant::now();
    let app = Server::parse(db_url(settings)?, "DB_URL")?;
    let admin = Server::parse(&args.db_admin_url, "DB_ADMIN_URL")?;
    let apartments: Vec<String> = settings
        .house_map
        .entries()
        .iter()
        .map(|e| e.apartment.clone())
        .collect();
    let mut report = StepReport::new("pg init");
    report.notes = publish::init::init(&admin, &app, &apartments).await?;
    Ok(print_summary(
        &RunSummary::new(vec![report.finish(started)], started),
        args.summary.format,
    ))
}

/// The report of a source that is not configured.
pub(super) fn skipped(step: &str, variable: &str) -> StepReport {
    tracing::info!("{step}: skipped, {variable} is not set");
    let mut report = StepReport::new(step);
    report.notes.push(format!("skipped: {variable} is not set"));
    report
}
