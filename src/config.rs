//! Run-time settings shared by every command, resolved from flags, the environment and the
//! `.env` file (in that order of precedence; see `cli::GlobalArgs` for every variable).

use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;

use crate::error::{Error, Result};

/// Map from the `<House>` token of sensor file names to apartment ids, matched case-insensitively.
/// The house spelling is kept as configured because prediction mode builds file names from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseMap {
    entries: Vec<HouseEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseEntry {
    /// House token exactly as it appears in file names, e.g. `JimmyLoup`.
    pub house: String,
    /// Apartment id used everywhere in the lake, e.g. `jimmy`.
    pub apartment: String,
}

pub const DEFAULT_WEATHER_SITE: &str = "Sion";

/// The defaults of the settings, shared by the command line (`cli::GlobalArgs`, where each is
/// documented) and [`Settings::for_lake`].
pub mod defaults {
    pub const LAKE_URL: &str = "./lake";
    pub const SENSOR_TIMEZONE: &str = "UTC";
    pub const REPORTING_TIMEZONE: &str = "Europe/Zurich";
    pub const LANDING_FSYNC: bool = true;
    pub const LOCK_WAIT_SECS: u64 = 0;
    pub const IO_CONCURRENCY: usize = 32;
    pub const SENSOR_SCAN_IDLE_MIN: u64 = 15;
    pub const BRONZE_BATCH_FILES: usize = 25_000;
    pub const BRONZE_BATCH_MB: u64 = 64;
    pub const MAX_SOURCE_FILE_MB: u64 = 64;
    pub const SILVER_PARTITIONS_PER_COMMIT: usize = 32;
    pub const WEATHER_MIN_YEAR: i32 = 2023;
    pub const WEATHER_MIN_AGE_SECS: u64 = 60;
    pub const PG_AUTO_READERS: bool = true;
    pub const SFTP_PORT: u16 = 22;
    pub const SFTP_PATH: &str = "/Meteo2";
    pub const SFTP_MAX_RETRIES: u32 = 3;
    pub const SFTP_RETRY_DELAY_SECS: u64 = 5;
    pub const SOURCE_RETRY_BUDGET_SECS: u64 = 120;
}
/// Words that make a sensor JSON key a secret (SECRET_KEYS): such members never leave landing.
pub const DEFAULT_SECRET_KEYS: &str = "token,api_key,apikey,password,passwd,secret,credential";
pub const DEFAULT_HOUSE_MAP: &str = "JimmyLoup=jimmy,JeremieVianin=jeremie";

impl HouseMap {
    /// Parse `House=apartment,House2=apartment2`.
    pub fn parse(text: &str) -> Result<Self> {
        let mut entries: Vec<HouseEntry> = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (house, apartment) = pair.split_once('=').ok_or_else(|| {
                Error::Config(format!(
                    "HOUSE_MAP entry `{pair}` is not `House=apartment` (full value: `{text}`)"
                ))
            })?;
            let (house, apartment) = (house.trim(), apartment.trim());
            if house.is_empty() || !is_valid_apartment_id(apartment) {
                return Err(Error::Config(format!(
                    "HOUSE_MAP entry `{pair}`: the house must be non-empty and the apartment id \
                     must be lowercase letters, digits, `-` or `_`"
                )));
            }
            if entries.iter().any(|e| e.house.eq_ignore_ascii_case(house)) {
                return Err(Error::Config(format!(
                    "HOUSE_MAP names house `{house}` twice"
                )));
            }
            // One file per apartment and minute is what makes duplicate resolution in silver
            // well defined, so an apartment has exactly one house.
            if let Some(other) = entries.iter().find(|e| e.apartment == apartment) {
                return Err(Error::Config(format!(
                    "HOUSE_MAP maps both `{}` and `{house}` to apartment `{apartment}`; an apartment has one house",
                    other.house
                )));
            }
            entries.push(HouseEntry {
                house: house.to_string(),
                apartment: apartment.to_string(),
            });
        }
        if entries.is_empty() {
            return Err(Error::Config("HOUSE_MAP is empty".into()));
        }
        Ok(Self { entries })
    }

    /// The apartment of a house token, ignoring case.
    pub fn apartment_of(&self, house: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.house.eq_ignore_ascii_case(house))
            .map(|e| e.apartment.as_str())
    }

    pub fn entries(&self) -> &[HouseEntry] {
        &self.entries
    }

    /// The map in its `House=apartment,...` text form.
    pub fn to_config_string(&self) -> String {
        self.entries
            .iter()
            .map(|e| format!("{}={}", e.house, e.apartment))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Default for HouseMap {
    fn default() -> Self {
        Self::parse(DEFAULT_HOUSE_MAP).expect("default house map is valid")
    }
}

fn is_valid_apartment_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Parse an IANA time zone name such as `UTC` or `Europe/Zurich`.
pub fn parse_timezone(name: &str, variable: &str) -> Result<Tz> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| Error::Config(format!("{variable}=`{name}` is not an IANA time zone name")))
}

/// Where the daily weather forecast files come from.
#[derive(Debug, Clone)]
pub enum WeatherSource {
    /// A local folder (the generator's `sftp/`, or a mounted copy).
    Local(PathBuf),
    /// An sFTP server.
    Sftp(SftpTarget),
}

/// An sFTP folder and how to reach it.
#[derive(Clone)]
pub struct SftpTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub key_file: Option<PathBuf>,
    /// Remote folder, e.g. `/Meteo2`.
    pub path: String,
    /// OpenSSH known_hosts file the server's key is checked against.
    pub known_hosts: PathBuf,
    /// Record an unknown host key instead of refusing it.
    pub accept_new_host: bool,
    /// Attempts after the first for a lost connection or a failed file.
    pub max_retries: u32,
    /// Wait before the first retry; doubles with every retry.
    pub retry_delay: Duration,
    /// Total waiting for retries in one run: longer outages are the scheduler's to retry, not a
    /// run's to sit out holding the writer lease.
    pub retry_budget: Duration,
}

impl std::fmt::Debug for SftpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sftp://{}@{}:{}{}",
            self.user, self.host, self.port, self.path
        )
    }
}

impl SftpTarget {
    /// `user@host:port` for messages (never the password).
    pub fn display_address(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Everything a pipeline step needs to know about its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lake root: a local path or an `s3://bucket/prefix` URL.
    pub lake_url: String,
    /// The SMB share with sensor files, mounted as a local folder.
    pub smb_path: Option<PathBuf>,
    /// Landing files on a local lake are fsynced before they are named, and their folders after
    /// each batch: raw data survives a power loss (everything derived from it can be rebuilt).
    pub landing_fsync: bool,
    pub house_map: HouseMap,
    /// Zone of the wall-clock times in sensor file names and payloads.
    pub sensor_timezone: Tz,
    /// Worker threads for CPU-bound work (parsing, SQL).
    pub threads: usize,
    /// Concurrent file copies and reads against the share and the lake.
    pub io_concurrency: usize,
    /// How long to wait for the writer lease held by another process.
    pub lock_wait: Duration,
    /// A listing scan of the share runs when prediction found nothing for this long.
    pub scan_idle: Duration,
    /// Files flattened per bronze commit.
    pub bronze_batch_files: usize,
    /// Landing bytes parsed per bronze commit (bounds memory with large files).
    pub bronze_batch_bytes: u64,
    /// A source file larger than this is landed as it is (streamed) and quarantined unread.
    pub max_source_file_bytes: u64,
    /// Silver partitions recomputed per commit (bounds memory on full rebuilds).
    pub silver_partitions_per_commit: usize,
    /// The weather forecast source, if configured.
    pub weather: Option<WeatherSource>,
    /// Forecast rows for times before this year are dropped in silver.
    pub weather_min_year: i32,
    /// A forecast file modified more recently than this may still be uploading: not landed yet.
    pub weather_min_age: Duration,
    /// The reference database (MySQL server or folder of CSV exports), if configured.
    pub reference: Option<crate::sources::reference::ReferenceSource>,
    /// Zone of gold's local_* reporting columns.
    pub reporting_timezone: Tz,
    /// Forecast sites of gold, in order; apartments use the first.
    pub weather_sites: Vec<String>,
    /// PostgreSQL serving gold (`publish`), if configured.
    pub db_url: Option<String>,
    /// Publish creates reader roles for new apartments.
    pub pg_auto_readers: bool,
    /// Comma-separated words that make a sensor JSON key a secret (dropped before bronze).
    pub secret_keys: String,
}

impl Settings {
    /// Threads for many small blocking file operations on a local lake: twice the cores, so
    /// one thread's disk wait overlaps another's work, capped by `io_concurrency`.
    pub fn local_io_threads(&self) -> usize {
        (self.threads * 2).clamp(1, self.io_concurrency.max(1))
    }

    /// Defaults for tests and embedding: the local lake at `lake_url`, no sources.
    pub fn for_lake(lake_url: impl Into<String>) -> Self {
        Self {
            lake_url: lake_url.into(),
            smb_path: None,
            landing_fsync: defaults::LANDING_FSYNC,
            house_map: HouseMap::default(),
            sensor_timezone: defaults::SENSOR_TIMEZONE.parse().expect("valid zone"),
            threads: default_threads(),
            io_concurrency: defaults::IO_CONCURRENCY,
            lock_wait: Duration::from_secs(defaults::LOCK_WAIT_SECS),
            scan_idle: Duration::from_secs(defaults::SENSOR_SCAN_IDLE_MIN * 60),
            bronze_batch_files: defaults::BRONZE_BATCH_FILES,
            bronze_batch_bytes: defaults::BRONZE_BATCH_MB << 20,
            max_source_file_bytes: defaults::MAX_SOURCE_FILE_MB << 20,
            silver_partitions_per_commit: defaults::SILVER_PARTITIONS_PER_COMMIT,
            weather: None,
            weather_min_year: defaults::WEATHER_MIN_YEAR,
            weather_min_age: Duration::from_secs(defaults::WEATHER_MIN_AGE_SECS),
            reference: None,
            reporting_timezone: defaults::REPORTING_TIMEZONE.parse().expect("valid zone"),
            weather_sites: vec![DEFAULT_WEATHER_SITE.to_string()],
            db_url: None,
            pg_auto_readers: defaults::PG_AUTO_READERS,
            secret_keys: DEFAULT_SECRET_KEYS.to_string(),
        }
    }
}

/// One worker per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Load the `.env`-style file before flags are parsed, so that its values act as defaults for
/// flags (flags and real environment variables win). A missing default file is fine; a missing
/// file that was asked for explicitly is an error.
pub fn load_env_file(path: &std::path::Path, explicit: bool) -> Result<()> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            Ok(())
        }
        Err(e) => Err(Error::Config(format!(
            "cannot read env file {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn house_map_is_case_insensitive_and_validated() {
        let map = HouseMap::default();
        assert_eq!(map.apartment_of("jimmyloup"), Some("jimmy"));
        assert_eq!(map.apartment_of("JEREMIEVIANIN"), Some("jeremie"));
        assert_eq!(map.apartment_of("Unknown"), None);
        assert!(HouseMap::parse("A=b,a=c").is_err());
        assert!(HouseMap::parse("A=b,C=b").is_err());
        assert!(HouseMap::parse("A").is_err());
        assert!(HouseMap::parse("A=Bad Id").is_err());
        assert_eq!(
            HouseMap::parse(" X=x , Y=y ").unwrap().to_config_string(),
            "X=x,Y=y"
        );
    }
}
