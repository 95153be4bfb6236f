//! Serving gold from PostgreSQL (SPEC §8): `pg init` prepares roles, database, schema and the
//! row-level-security map; `publish` copies gold tables in with binary COPY and swaps them in
//! atomically.

pub mod copy;
pub mod erase;
pub mod init;
mod plan;
pub mod run;
pub mod schema;
pub mod security;
pub mod sql;
mod stage;
mod swap;

use crate::lake::LakeError;
use crate::ops::secrets::{mask_url, redact};

pub type Result<T, E = PublishError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("configuration: {0}")]
    Config(String),
    /// A PostgreSQL failure; the message names the server and never holds a password.
    #[error("PostgreSQL {server}: {message}")]
    Postgres { server: String, message: String },
    /// Reading a gold table from the lake failed (planning or scanning it).
    #[error("reading gold.{table} from the lake: {source}")]
    Reading {
        table: String,
        source: Box<datafusion::error::DataFusionError>,
    },
    #[error("cannot publish Arrow type {0} to PostgreSQL")]
    Unsupported(String),
    #[error("{table}: PostgreSQL has {published} rows after publishing, the lake {lake}")]
    CountMismatch {
        table: String,
        published: i64,
        lake: i64,
    },
    #[error(transparent)]
    Lake(#[from] LakeError),
}

impl PublishError {
    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Config(_) => crate::ops::exit::CONFIG,
            Self::Postgres { .. }
            | Self::Reading { .. }
            | Self::Unsupported(_)
            | Self::CountMismatch { .. } => crate::ops::exit::FAILURE,
            Self::Lake(e) => e.exit_code(),
        }
    }
}

impl PublishError {
    /// A lake failure while reading `gold.<table>`.
    pub fn reading(table: &str) -> impl FnOnce(datafusion::error::DataFusionError) -> Self + '_ {
        move |source| Self::Reading {
            table: table.to_string(),
            source: Box::new(source),
        }
    }
}

impl From<datafusion::arrow::error::ArrowError> for PublishError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Self::Lake(e.into())
    }
}

impl From<datafusion::error::DataFusionError> for PublishError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::Lake(e.into())
    }
}

/// A PostgreSQL server named by a URL: host and port for messages, the URL for connecting.
#[derive(Clone)]
pub struct Server {
    url: url::Url,
    /// `host:port/db`, safe to show.
    pub display: String,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl Server {
    /// `url`: `postgresql://user:password@host:port/database`.
    pub fn parse(url: &str, variable: &str) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| {
            PublishError::Config(format!("{variable} `{}` is not a URL: {e}", mask_url(url)))
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(PublishError::Config(format!(
                "{variable} `{}` is not a postgresql:// URL",
                mask_url(url)
            )));
        }
        crate::ops::secrets::register_url(url);
        let display = format!(
            "{}:{}{}",
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(5432),
            parsed.path()
        );
        Ok(Self {
            url: parsed,
            display,
        })
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The user name of the URL.
    pub fn user(&self) -> &str {
        self.url.username()
    }

    /// The percent-decoded password of the URL, if any.
    pub fn password(&self) -> Option<String> {
        self.url.password().map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
    }

    /// The database name of the URL.
    pub fn database(&self) -> &str {
        self.url.path().trim_start_matches('/')
    }

    /// The same server and credentials, connected to `database`.
    pub fn with_database(&self, database: &str) -> Self {
        let mut url = self.url.clone();
        url.set_path(database);
        Self {
            display: format!(
                "{}:{}/{database}",
                url.host_str().unwrap_or("localhost"),
                url.port().unwrap_or(5432)
            ),
            url,
        }
    }

    /// The error of a failed call, naming the server, with secrets masked.
    pub fn error(&self, what: &str, e: impl Into<ErrorText>) -> PublishError {
        PublishError::Postgres {
            server: self.display.clone(),
            message: redact(&format!("{what}: {}", e.into().0)).into_owned(),
        }
    }

    /// Connect (15 s timeout); the connection runs on its own task.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        let mut config: tokio_postgres::Config = self
            .url
            .as_str()
            .parse()
            .map_err(|e| self.error("invalid connection settings", e))?;
        config.connect_timeout(std::time::Duration::from_secs(15));
        config.application_name("datacycle");
        // A server that hangs, or a lock that never comes, fails the publish instead of holding
        // it (and in `watch`, every later step) forever. The whole-table COPY of the largest
        // facts takes minutes, not half an hour; locks are taken without waiting first (see
        // `run::lock_tables`), so two minutes in line means something is wrong.
        let timeouts = "-c statement_timeout=1800000 -c lock_timeout=120000 \
                        -c idle_in_transaction_session_timeout=600000";
        let options = match config.get_options() {
            Some(given) => format!("{given} {timeouts}"),
            None => timeouts.to_string(),
        };
        config.options(&options);
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| self.error("cannot connect", e))?;
        let server = self.display.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection to {server} closed: {}", redact(&e.to_string()));
            }
        });
        Ok(client)
    }
}

/// The text of an error; for a PostgreSQL error its server message, SQLSTATE and detail
/// (tokio-postgres' own Display says only "db error").
pub struct ErrorText(String);

impl From<tokio_postgres::Error> for ErrorText {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => {
                let detail = db.detail().map(|d| format!(" ({d})")).unwrap_or_default();
                Self(format!("{} [{}]{detail}", db.message(), db.code().code()))
            }
            None => Self(match std::error::Error::source(&e) {
                Some(source) => format!("{e}: {source}"),
                None => e.to_string(),
            }),
        }
    }
}

impl From<String> for ErrorText {
    fn from(text: String) -> Self {
        Self(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lake_failure_names_the_gold_table() {
        let error = PublishError::reading("fact_energy_minute")(
            datafusion::error::DataFusionError::Plan("no field named x".into()),
        );
        let text = error.to_string();
        assert!(
            text.starts_with("reading gold.fact_energy_minute from the lake:")
                && text.contains("no field named x"),
            "{text}"
        );
        assert_eq!(error.exit_code(), crate::ops::exit::FAILURE);
    }
}
