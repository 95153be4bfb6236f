//! `datacycle gdpr`: the data subjects' rights over the whole lake (docs/gdpr.md).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::output::print_summary;
use super::{LakeArgs, ModelArgs, SummaryArgs};
use crate::config::Settings;
use crate::error::Result;
use crate::lake::Lake;
use crate::ops::report::RunSummary;
use crate::transform;

#[derive(Debug, Subcommand)]
pub enum GdprCommand {
    /// Right of access and portability: every row of one apartment from every layer (landing
    /// files as they arrived; each table as Parquet and CSV) with a manifest.json of tables,
    /// rows, time range, lake versions read and the SHA-256 of every file.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The apartment, as in HOUSE_MAP (e.g. `jeremie`).
    #[arg(long, env = "GDPR_APARTMENT")]
    pub apartment: String,
    /// A new (or empty) directory to write the export into.
    #[arg(long, env = "GDPR_OUT")]
    pub out: PathBuf,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

pub async fn export(settings: &Settings, args: ExportArgs) -> Result<i32> {
    let started = std::time::Instant::now();
    let lake = Lake::open(&settings.lake_url)?;
    let session = transform::open_session(&lake, settings).await?;
    let (manifest, steps) = crate::gdpr::export(&session, &args.apartment, &args.out).await?;
    tracing::info!(
        "exported {} table(s) and {} landing file(s) to {} (manifest.json)",
        manifest.tables.len(),
        manifest.landing_files.len(),
        args.out.display()
    );
    Ok(print_summary(
        &RunSummary::new(steps, started),
        args.summary.format,
    ))
}
