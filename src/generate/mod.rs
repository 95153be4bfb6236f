//! `datacycle generate`: realistic synthetic sources, deterministic for a seed.
//!
//! - `smb/`: one sensor JSON file per apartment and minute (SPEC §2.1), with the defects real
//!   files have: nulls, missing minutes, source gaps longer than 30 minutes, truncated and
//!   non-JSON files, single-object doorsWindows, meteos without the `meteo` level, device names
//!   as room keys, outliers, payload times off by a minute, counter resets.
//! - `sftp/`: daily `Pred_YYYY-MM-DD.csv` weather forecasts (SPEC §2.2) with sentinels,
//!   overlapping windows, stray quotes and a missing day.
//! - `mysql/`: the reference database as `seed.sql` (with the personal-data tables, holding fake
//!   people) and the 10 imported tables as CSV.
//! - `sources.env`: the settings that point datacycle at these sources (`--env-file`).

mod apartments;
mod names;
mod personal_tables;
mod reference;
mod sensors;
mod weather;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::HouseMap;
use crate::ops::report::StepReport;

pub use apartments::ApartmentProfile;

pub type Result<T, E = GenerateError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} exists, is not empty and was not made by `datacycle generate`; choose another --out"
    )]
    NotGenerated(PathBuf),
    #[error("invalid option: {0}")]
    Invalid(String),
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub out: PathBuf,
    pub days: u32,
    pub apartments: u32,
    pub start: NaiveDate,
    pub seed: u64,
    pub weather_sites: u32,
}

impl GenerateOptions {
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            days: 3,
            apartments: 2,
            start: NaiveDate::from_ymd_opt(2023, 8, 18).expect("valid date"),
            seed: 42,
            weather_sites: 45,
        }
    }
}

/// The generated set.
#[derive(Debug, Clone)]
pub struct Generated {
    pub smb: PathBuf,
    pub sftp: PathBuf,
    pub mysql: PathBuf,
    pub house_map: HouseMap,
    pub reports: Vec<StepReport>,
}

const MARKER: &str = ".datacycle-generated";

/// A deterministic random generator for one part of the data set.
pub(crate) fn rng(seed: u64, stream: &str, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&index.to_le_bytes());
    for (i, b) in stream.bytes().take(16).enumerate() {
        key[16 + i] = b;
    }
    ChaCha8Rng::from_seed(key)
}

/// Generate every source under `options.out`, replacing an earlier generated set there.
pub fn generate(options: &GenerateOptions) -> Result<Generated> {
    if options.days == 0 || options.apartments == 0 || options.weather_sites == 0 {
        return Err(GenerateError::Invalid(
            "--days, --apartments and --weather-sites must be at least 1".into(),
        ));
    }
    if options.weather_sites as usize > names::WEATHER_SITES.len() {
        return Err(GenerateError::Invalid(format!(
            "--weather-sites is at most {}",
            names::WEATHER_SITES.len()
        )));
    }
    prepare_out(&options.out)?;
    let smb = options.out.join("smb");
    let sftp = options.out.join("sftp");
    let mysql = options.out.join("mysql");
    let profiles = apartments::profiles(options.apartments);
    let house_map = HouseMap::parse(
        &profiles
            .iter()
            .map(|p| format!("{}={}", p.house, p.apartment))
            .collect::<Vec<_>>()
            .join(","),
    )
    .expect("generated house map is valid");

    let mut reports = Vec::new();
    let started = Instant::now();
    reports.push(sensors::generate(&smb, &profiles, options)?.finish(started));
    let started = Instant::now();
    reports.push(weather::generate(&sftp, options)?.finish(started));
    let started = Instant::now();
    reports.push(reference::generate(&mysql, &profiles, options)?.finish(started));

    let env = format!(
        "# Written by `datacycle generate`: point datacycle at these sources with\n\
         #   datacycle --env-file {out}/sources.env rebuild\n\
         SMB_PATH={smb}\nHOUSE_MAP={map}\nWEATHER_SOURCE={sftp}\nREFERENCE_SOURCE={mysql}\n",
        out = options.out.display(),
        smb = smb.display(),
        map = house_map.to_config_string(),
        sftp = sftp.display(),
        mysql = mysql.display(),
    );
    let env_path = options.out.join("sources.env");
    std::fs::write(&env_path, env).map_err(io_error(&env_path))?;
    Ok(Generated {
        smb,
        sftp,
        mysql,
        house_map,
        reports,
    })
}

/// Create `out`, or empty a previously generated set there.
fn prepare_out(out: &Path) -> Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(io_error(out))?
            .next()
            .is_none();
        if !empty && !out.join(MARKER).exists() {
            return Err(GenerateError::NotGenerated(out.to_path_buf()));
        }
        for sub in ["smb", "sftp", "mysql"] {
            let dir = out.join(sub);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(io_error(&dir))?;
            }
        }
    }
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    let marker = out.join(MARKER);
    std::fs::write(&marker, "made by datacycle generate\n").map_err(io_error(&marker))
}
