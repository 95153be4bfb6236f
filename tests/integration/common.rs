//! Shared helpers: a throwaway lake and share per test, the real binary, digests and queries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datacycle::config::Settings;
use datacycle::lake::{Lake, LakeSession, TableDigest, table_digest};
use datafusion::arrow::record_batch::RecordBatch;

/// Columns that record when something ran, not what it holds; and the share's modification
/// times, which a test that copies files into its share changes.
pub const RUN_METADATA: &[&str] = &["ingested_at", "snapshot_at", "source_modified"];

/// A setting scripts/test.sh provides (a service it started).
pub fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test.sh, which starts the services")
    })
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_datacycle"))
}

pub fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn temp_dir() -> tempfile::TempDir {
    let builder = tempfile::Builder::new().prefix("datacycle-").tempdir_in(
        std::env::var_os("DATACYCLE_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
    );
    builder.expect("temp dir")
}

/// A lake folder and a share folder in a temp dir, and the binary pointed at them.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub lake: PathBuf,
    pub share: PathBuf,
    pub vars: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = temp_dir();
        let lake = dir.path().join("lake");
        let share = dir.path().join("share");
        std::fs::create_dir_all(&share).unwrap();
        std::fs::write(dir.path().join("empty.env"), "").unwrap();
        Self {
            dir,
            lake,
            share,
            vars: Vec::new(),
        }
    }

    /// Use `share` (e.g. a generated `smb/` folder) as the SMB share.
    pub fn with_share(mut self, share: &Path) -> Self {
        self.share = share.to_path_buf();
        self
    }

    /// Use `folder` (e.g. a generated `sftp/` folder) as the weather source.
    pub fn with_weather(self, folder: &Path) -> Self {
        self.var("WEATHER_SOURCE", &folder.to_string_lossy())
    }

    /// Use `source` (a generated `mysql/` folder or a mysql:// URL) as the reference database.
    pub fn with_reference(self, source: &str) -> Self {
        self.var("REFERENCE_SOURCE", source)
    }

    /// Use every source of a generated data set: its share, forecasts and reference database.
    pub fn with_sources(self, generated: &datacycle::generate::Generated) -> Self {
        self.with_share(&generated.smb)
            .with_weather(&generated.sftp)
            .with_reference(&generated.mysql.to_string_lossy())
    }

    pub fn var(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.to_string(), value.to_string()));
        self
    }

    /// A fresh lake next to the same share and settings.
    pub fn sibling(&self) -> Self {
        let lake = temp_dir();
        let path = lake.path().join("lake");
        std::fs::write(lake.path().join("empty.env"), "").unwrap();
        Self {
            dir: lake,
            lake: path,
            share: self.share.clone(),
            vars: self.vars.clone(),
        }
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(bin());
        for key in [
            "LAKE_URL",
            "SMB_PATH",
            "HOUSE_MAP",
            "SENSOR_TIMEZONE",
            "LOG_DIR",
            "LOCK_WAIT_SECS",
            "DATACYCLE_NOW",
            "WEATHER_SOURCE",
            "SFTP_HOST",
            "SFTP_PASSWORD",
            "WEATHER_MIN_YEAR",
            "MYSQL_URL",
            "REFERENCE_SOURCE",
            "DB_URL",
            "DB_ADMIN_URL",
            "PG_AUTO_READERS",
            "REPORTING_TIMEZONE",
            "WEATHER_SITES",
        ] {
            command.env_remove(key);
        }
        command
            .env("ENV_FILE", self.dir.path().join("empty.env"))
            .env("LAKE_URL", &self.lake)
            .env("SMB_PATH", &self.share)
            .env("NO_PROGRESS", "1")
            .env("LOG_LEVEL", "warn")
            // Files tests write are seconds old; `hardening` tests the upload guard itself.
            .env("WEATHER_MIN_AGE_SECS", "0");
        for (key, value) in &self.vars {
            command.env(key, value);
        }
        command
    }

    /// Run the binary and insist on success.
    pub fn run(&self, args: &[&str]) -> Output {
        let output = self.command().args(args).output().expect("spawn datacycle");
        assert!(
            output.status.success(),
            "datacycle {args:?} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    pub fn settings(&self) -> Settings {
        let mut settings = Settings::for_lake(self.lake.to_string_lossy());
        settings.smb_path = Some(self.share.clone());
        for (key, value) in &self.vars {
            match key.as_str() {
                "SENSOR_TIMEZONE" => settings.sensor_timezone = value.parse().unwrap(),
                "HOUSE_MAP" => {
                    settings.house_map = datacycle::config::HouseMap::parse(value).unwrap()
                }
                _ => {}
            }
        }
        settings
    }

    pub async fn session(&self) -> LakeSession {
        let lake = Lake::open(&self.lake.to_string_lossy()).unwrap();
        datacycle::transform::open_session(&lake, &self.settings())
            .await
            .unwrap()
            .with_runs()
            .await
            .unwrap()
    }

    /// Content digest of every table of the lake.
    pub async fn digests(&self) -> BTreeMap<String, TableDigest> {
        let session = self.session().await;
        let mut digests = BTreeMap::new();
        for table in session.lake().list_tables().await.unwrap() {
            let digest = table_digest(session.ctx(), &table.to_string(), RUN_METADATA)
                .await
                .unwrap();
            digests.insert(table.to_string(), digest);
        }
        digests
    }

    pub async fn query(&self, sql: &str) -> Vec<RecordBatch> {
        let session = self.session().await;
        session
            .ctx()
            .sql(sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
    }

    /// Query results as CSV text with a header row.
    pub async fn query_csv(&self, sql: &str) -> String {
        let batches = self.query(sql).await;
        let mut out = Vec::new();
        {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for batch in &batches {
                writer.write(batch).unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// A single integer result.
    pub async fn count(&self, sql: &str) -> i64 {
        use datafusion::arrow::array::AsArray;
        let batches = self.query(sql).await;
        batches[0]
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0)
    }
}

/// The step called `name` of a `--format json` run summary.
pub fn summary_step(summary: &serde_json::Value, name: &str) -> serde_json::Value {
    summary["steps"]
        .as_array()
        .expect("a run summary has steps")
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step `{name}` in {summary}"))
        .clone()
}

/// Copy every file of `from` into `to`.
pub fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Sensor files of `dir` in the order of the minute in their names.
pub fn files_by_minute(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort_by_key(|p| {
        datacycle::lake::landing::sensors::SensorFileName::parse(
            &p.file_name().unwrap().to_string_lossy(),
        )
        .map(|n| n.minute)
    });
    files
}

/// Generate a data set with the library generator.
pub fn generate(dir: &Path, days: u32, apartments: u32) -> datacycle::generate::Generated {
    let mut options = datacycle::generate::GenerateOptions::new(dir);
    options.days = days;
    options.apartments = apartments;
    options.weather_sites = 2;
    datacycle::generate::generate(&options).unwrap()
}

/// Compare against an expected file; `BLESS=1` rewrites it (review the diff before committing).
pub fn assert_matches_file(actual: &str, expected_path: &Path) {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(expected_path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with BLESS=1 to create it)",
            expected_path.display()
        )
    });
    if actual != expected {
        let mut message = format!("{} differs:\n", expected_path.display());
        for diff in diff_lines(&expected, actual) {
            message.push_str(&diff);
            message.push('\n');
        }
        panic!("{message}");
    }
}

fn diff_lines(expected: &str, actual: &str) -> Vec<String> {
    let expected: Vec<&str> = expected.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    let mut out = Vec::new();
    for line in &expected {
        if !actual.contains(line) {
            out.push(format!("- {line}"));
        }
    }
    for line in &actual {
        if !expected.contains(line) {
            out.push(format!("+ {line}"));
        }
    }
    if out.is_empty() {
        out.push("(same lines, different order or count)".into());
    }
    out
}

/// Every file below `root`.
pub fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path)
            } else {
                files.push(path)
            }
        }
    }
    files
}
