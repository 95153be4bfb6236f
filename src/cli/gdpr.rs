//! `datacycle gdpr`: the data subjects' rights over the whole lake (docs/gdpr.md).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use std::time::Instant;

use super::output::print_summary;
use super::pipeline::write_and_report;
use super::{LakeArgs, ModelArgs, PostgresArgs, SummaryArgs};
use crate::config::{Settings, is_valid_apartment_id};
use crate::error::{Error, Result};
use crate::gdpr::erase_subject;
use crate::gdpr::subject::Subject;
use crate::lake::Lake;
use crate::lake::erasures::Erasures;
use crate::ops::report::{RunSummary, StepReport};
use crate::transform;

#[derive(Debug, Subcommand)]
pub enum GdprCommand {
    /// Right of access and portability: every row of one apartment from every layer (landing
    /// files as they arrived; each table as Parquet and CSV) with a manifest.json of tables,
    /// rows, time range, lake versions read and the SHA-256 of every file.
    Export(ExportArgs),
    /// Right to erasure: delete one apartment from landing and every table of the lake, delete
    /// from storage every data file that ever held one of its rows (time travel into those
    /// versions then fails), blank its house name in the reference snapshots, delete its rows
    /// from PostgreSQL when DB_URL is set, and refuse its files from then on (until `gdpr
    /// readmit`). Irreversible: needs --yes, or --dry-run to see what would go.
    Erase(EraseArgs),
    /// Take an erased apartment's files in again (the share still has them: the next ingest
    /// lands them).
    Readmit(ReadmitArgs),
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The apartment, as in HOUSE_MAP (e.g. `jimmy`).
    #[arg(long, env = "GDPR_APARTMENT")]
    pub apartment: String,
    /// Confirm the erasure (it cannot be undone).
    #[arg(long)]
    pub yes: bool,
    /// List what would be erased (rows, files, bytes per table); change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub postgres: PostgresArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args)]
pub struct ReadmitArgs {
    /// The erased apartment.
    #[arg(long, env = "GDPR_APARTMENT")]
    pub apartment: String,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
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
    let started = Instant::now();
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

/// `apartment` as an apartment id, or the error that says why it cannot be one (an empty id
/// would name every apartment's folder).
fn checked_id(apartment: &str) -> Result<()> {
    if is_valid_apartment_id(apartment) {
        return Ok(());
    }
    Err(Error::config(
        "--apartment must be an apartment id as in HOUSE_MAP: lowercase letters, digits, `-` or `_`",
    ))
}

pub async fn erase(settings: &Settings, args: EraseArgs) -> Result<i32> {
    checked_id(&args.apartment)?;
    if !args.yes && !args.dry_run {
        return Err(Error::config(
            "gdpr erase deletes the apartment's data for good, old versions included: add --yes \
             to confirm (or --dry-run to see what would go)",
        ));
    }
    let command = if args.dry_run {
        "gdpr erase (dry run)"
    } else {
        "gdpr erase"
    };
    write_and_report(settings, command, args.summary.format, async |writer| {
        let (lake, settings) = (&writer.lake, &writer.settings);
        let session = transform::open_session(lake, settings).await?;
        let subject = Subject::find(&session, &args.apartment).await?;
        let known = settings
            .house_map
            .entries()
            .iter()
            .any(|e| e.apartment == args.apartment)
            || Erasures::load(lake).await?.contains(&args.apartment);
        let started = Instant::now();
        if !known
            && erase_subject(lake, &writer.lease, settings, &subject, true)
                .await?
                .iter()
                .all(|step| step.rows == 0 && step.files == 0)
        {
            return Err(Error::config(
                "that apartment is not in HOUSE_MAP and the lake holds nothing of it (ids are \
                 case-sensitive, as in HOUSE_MAP)",
            ));
        }
        let mut steps =
            erase_subject(lake, &writer.lease, settings, &subject, args.dry_run).await?;
        if steps.is_empty() {
            let mut report = StepReport::new("erase");
            report
                .notes
                .push("nothing of that apartment is left".into());
            steps.push(report.finish(started));
        }
        Ok(steps)
    })
    .await
}

pub async fn readmit(settings: &Settings, args: ReadmitArgs) -> Result<i32> {
    checked_id(&args.apartment)?;
    write_and_report(
        settings,
        "gdpr readmit",
        args.summary.format,
        async |writer| {
            let started = Instant::now();
            let mut erasures = Erasures::load(&writer.lake).await?;
            if !erasures.remove(&args.apartment) {
                return Err(Error::config("that apartment was not erased"));
            }
            erasures.save(&writer.lake).await?;
            let mut report = StepReport::new("gdpr readmit");
            report
                .notes
                .push("its files are landed again by the next sensor ingest".into());
            Ok(vec![report.finish(started)])
        },
    )
    .await
}
