//! `landing export`: the sensor files of an apartment written back as the files they were on the
//! share, byte for byte, under their original names and modification times. The way out of
//! the landing table for a person who wants the raw files (a re-import elsewhere, an audit, a
//! data subject's copy).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use object_store::ObjectStoreExt;

use super::sensor_table::{self, StoredFile, large_file_path};
use crate::lake::{Lake, LakeError, Result};
use crate::ops::progress;
use crate::ops::report::StepReport;

/// Write every landed file of `apartment` (of `date` only, when given) into `out`.
pub async fn export(
    lake: &Lake,
    apartment: &str,
    date: Option<NaiveDate>,
    out: &Path,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new("landing export");
    let table = sensor_table::table();
    let Some(delta) = lake.open_table(&table).await? else {
        report.notes.push("nothing landed yet".into());
        return Ok(report.finish(started));
    };
    let dates: Vec<NaiveDate> = sensor_table::dates_of(&delta, apartment)?
        .into_iter()
        .filter(|d| date.is_none_or(|wanted| *d == wanted))
        .collect();
    if dates.is_empty() {
        report.notes.push(match date {
            Some(date) => format!("nothing landed for {apartment} on {date}"),
            None => format!("nothing landed for {apartment}"),
        });
        return Ok(report.finish(started));
    }
    std::fs::create_dir_all(out).map_err(|source| write_error(out, source))?;
    let session = sensor_table::session_of(lake, &delta).await?;
    let bar = progress::bar(dates.len() as u64, "exporting", "days");
    for date in dates {
        for file in sensor_table::files_of_day(&session, apartment, date).await? {
            let bytes = match &file.content {
                Some(bytes) => bytes.clone(),
                None => large_file(lake, apartment, &file).await?,
            };
            write_file(&out.join(&file.name), &bytes, &file)?;
            report.files += 1;
            report.bytes += bytes.len() as u64;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    report.notes.push(format!("written to {}", out.display()));
    Ok(report.finish(started))
}

async fn large_file(lake: &Lake, apartment: &str, file: &StoredFile) -> Result<bytes::Bytes> {
    let path = lake.path(&large_file_path(apartment, file.minute, &file.name));
    Ok(lake.root_store().get(&path).await?.bytes().await?)
}

/// Write `bytes` to `path` whole (beside it, then renamed) with the file's modification time.
fn write_file(path: &Path, bytes: &[u8], file: &StoredFile) -> Result<()> {
    let staging = PathBuf::from(format!("{}.partial", path.display()));
    let written = std::fs::File::create(&staging).and_then(|mut f| {
        f.write_all(bytes)?;
        match file.modified {
            Some(modified) => f.set_modified(modified.into()),
            None => Ok(()),
        }
    });
    written
        .and_then(|()| std::fs::rename(&staging, path))
        .map_err(|source| write_error(path, source))
}

fn write_error(path: &Path, source: std::io::Error) -> LakeError {
    LakeError::Write {
        path: path.display().to_string(),
        source,
    }
}
