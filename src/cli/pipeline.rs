//! The pipeline commands: generate, ingest, build and rebuild.

use std::time::Instant;

use super::output::{ReportFormat, print_summary};
use super::{BuildArgs, BuildLayer, GenerateArgs, RebuildArgs};
use crate::config::Settings;
use crate::error::Result;
use crate::generate::{GenerateOptions, generate as generate_sources};
use crate::lake::{Lake, WriterLease};
use crate::ops::report::{RunSummary, StepReport};
use crate::{bronze, sources, transform};

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
    let summary = RunSummary {
        steps: generated.reports,
        seconds: started.elapsed().as_secs_f64(),
    };
    print_summary(&summary, args.format);
    Ok(0)
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

    pub async fn close(self) -> Result<()> {
        self.lease.release().await?;
        Ok(())
    }
}

pub async fn ingest_sensors(settings: &Settings, full: bool, format: ReportFormat) -> Result<i32> {
    let started = Instant::now();
    let writer = Writer::open(settings, "ingest sensors").await?;
    let report = sources::smb::ingest(&writer.lake, &writer.settings, &writer.lease, full).await?;
    writer.close().await?;
    print_summary(
        &RunSummary {
            steps: vec![report],
            seconds: started.elapsed().as_secs_f64(),
        },
        format,
    );
    Ok(0)
}

pub async fn build(settings: &Settings, args: BuildArgs) -> Result<i32> {
    let started = Instant::now();
    let writer = Writer::open(settings, "build").await?;
    let steps = build_layers(&writer, args.layer, args.full).await?;
    writer.close().await?;
    print_summary(
        &RunSummary {
            steps,
            seconds: started.elapsed().as_secs_f64(),
        },
        args.format,
    );
    Ok(0)
}

/// Build the requested layers in order.
pub(super) async fn build_layers(
    writer: &Writer,
    layer: BuildLayer,
    full: bool,
) -> Result<Vec<StepReport>> {
    let session = transform::open_session(&writer.lake, &writer.settings).await?;
    let mut steps = Vec::new();
    if matches!(layer, BuildLayer::Bronze | BuildLayer::All) {
        steps.push(bronze::sensors::build(&session, &writer.settings, &writer.lease, full).await?);
    }
    if matches!(layer, BuildLayer::Silver | BuildLayer::All) {
        steps.push(
            transform::sensor_events::build(&session, &writer.settings, &writer.lease, full)
                .await?,
        );
    }
    Ok(steps)
}

pub async fn rebuild(settings: &Settings, args: RebuildArgs) -> Result<i32> {
    let started = Instant::now();
    let writer = Writer::open(settings, "rebuild").await?;
    let steps = rebuild_all(&writer, args.full).await?;
    writer.close().await?;
    print_summary(
        &RunSummary {
            steps,
            seconds: started.elapsed().as_secs_f64(),
        },
        args.format,
    );
    Ok(0)
}

/// Ingest every configured source (an unconfigured one is skipped with a note), then build.
pub(super) async fn rebuild_all(writer: &Writer, full: bool) -> Result<Vec<StepReport>> {
    let mut steps = Vec::new();
    if writer.settings.smb_path.is_some() {
        steps
            .push(sources::smb::ingest(&writer.lake, &writer.settings, &writer.lease, full).await?);
    } else {
        let mut skipped = StepReport::new("ingest sensors");
        skipped.notes.push("skipped: SMB_PATH is not set".into());
        tracing::info!("sensor source skipped: SMB_PATH is not set");
        steps.push(skipped);
    }
    steps.extend(build_layers(writer, BuildLayer::All, full).await?);
    Ok(steps)
}
