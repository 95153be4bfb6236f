//! Where the weather forecasts and the reference tables come from: WEATHER_SOURCE (a folder or an
//! `sftp://` URL) or the SFTP_* settings, MYSQL_URL or REFERENCE_SOURCE; and WEATHER_SITES.

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Result};
use crate::ops::secrets::{mask_url, register};

/// Where the reference tables come from.
#[derive(Clone, PartialEq, Eq)]
pub enum ReferenceSource {
    /// `mysql://user:password@host:port/pidb`.
    Mysql(String),
    /// A folder with one `<table>.csv` per table (header row; an empty field is NULL).
    Folder(PathBuf),
}

impl ReferenceSource {
    /// `mysql://...` is a server, anything else a folder.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("mysql://") || text.starts_with("mariadb://") {
            Self::Mysql(text.replacen("mariadb://", "mysql://", 1))
        } else {
            Self::Folder(PathBuf::from(text))
        }
    }

    /// For messages: the folder, or the URL with its password masked.
    pub fn display(&self) -> String {
        match self {
            Self::Mysql(url) => mask_url(url),
            Self::Folder(path) => path.display().to_string(),
        }
    }
}

/// Never prints the password.
impl std::fmt::Debug for ReferenceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
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

impl ReferenceSource {
    /// The reference source from MYSQL_URL or REFERENCE_SOURCE (both set: they must agree).
    pub fn resolve(
        mysql_url: Option<&str>,
        reference_source: Option<&str>,
    ) -> Result<Option<Self>> {
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|t| !t.is_empty())
                .map(ReferenceSource::parse)
        };
        match (given(mysql_url), given(reference_source)) {
            (Some(mysql), Some(other)) if mysql != other => Err(ConfigError(format!(
                "MYSQL_URL ({}) and REFERENCE_SOURCE ({}) name different reference sources; set one",
                mysql.display(),
                other.display()
            ))),
            (mysql, other) => Ok(mysql.or(other)),
        }
    }
}

/// The SFTP_* settings: the server when WEATHER_SOURCE is not set, and the defaults of the parts
/// an `sftp://` WEATHER_SOURCE leaves out.
#[derive(Clone, Default)]
pub struct SftpSettings {
    pub host: Option<String>,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub key_file: Option<PathBuf>,
    pub path: String,
    /// Default `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    pub accept_new_host: bool,
    pub max_retries: u32,
    pub retry_delay: Duration,
    pub retry_budget: Duration,
}

impl WeatherSource {
    /// The weather source from WEATHER_SOURCE (`source`), or from the separate SFTP_* settings.
    pub fn resolve(source: Option<&str>, sftp: &SftpSettings) -> Result<Option<Self>> {
        let Some(text) = source.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(sftp.host.as_ref().map(|host| {
                WeatherSource::Sftp(sftp.target(
                    host.clone(),
                    sftp.port,
                    None,
                    None,
                    sftp.path.clone(),
                ))
            }));
        };
        if !text.starts_with("sftp://") {
            return Ok(Some(WeatherSource::Local(PathBuf::from(text))));
        }
        let invalid =
            |reason: String| ConfigError(format!("WEATHER_SOURCE `{}` {reason}", mask_url(text)));
        let url = url::Url::parse(text)
            .map_err(|e| invalid(format!("is not a valid sftp:// URL: {e}")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("has no host".into()))?;
        let decoded = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = Some(url.username())
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        let path = match url.path() {
            "" | "/" => sftp.path.clone(),
            path => decoded(path),
        };
        Ok(Some(WeatherSource::Sftp(sftp.target(
            host.to_string(),
            url.port().unwrap_or(sftp.port),
            user,
            url.password().map(decoded),
            path,
        ))))
    }
}

impl SftpSettings {
    /// The target at `host:port/path`; user and password from the URL, else from SFTP_*.
    fn target(
        &self,
        host: String,
        port: u16,
        user: Option<String>,
        password: Option<String>,
        path: String,
    ) -> SftpTarget {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        SftpTarget {
            host,
            port,
            user: user
                .or_else(|| self.user.clone())
                .unwrap_or_else(|| "anonymous".into()),
            password: password
                .or_else(|| self.password.clone())
                .filter(|p| !p.is_empty())
                .inspect(|p| register(p)),
            key_file: self.key_file.clone(),
            path,
            known_hosts: self
                .known_hosts
                .clone()
                .unwrap_or_else(|| home.join(".ssh/known_hosts")),
            accept_new_host: self.accept_new_host,
            max_retries: self.max_retries,
            retry_delay: self.retry_delay,
            retry_budget: self.retry_budget,
        }
    }
}

/// WEATHER_SITES: comma-separated site names, at least one, no duplicates.
pub fn parse_weather_sites(text: &str) -> Result<Vec<String>> {
    let mut sites: Vec<String> = Vec::new();
    for site in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if sites.iter().any(|s| s == site) {
            return Err(ConfigError(format!("WEATHER_SITES names `{site}` twice")));
        }
        sites.push(site.to_string());
    }
    if sites.is_empty() {
        return Err(ConfigError(
            "WEATHER_SITES is empty: name at least one forecast site, e.g. Sion".into(),
        ));
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weather_sites_are_named_once() {
        assert_eq!(parse_weather_sites("Sion, Visp").unwrap(), ["Sion", "Visp"]);
        assert!(parse_weather_sites(" , ").is_err());
        assert!(parse_weather_sites("Sion,Sion").is_err());
    }

    #[test]
    fn an_sftp_url_fills_in_from_the_sftp_settings() {
        let sftp = SftpSettings {
            user: Some("meteo".into()),
            port: 22,
            path: "/Meteo2".into(),
            ..Default::default()
        };
        let Some(WeatherSource::Sftp(target)) =
            WeatherSource::resolve(Some("sftp://host.example:2222"), &sftp).unwrap()
        else {
            panic!("an sftp:// source is a server");
        };
        assert_eq!(target.display_address(), "meteo@host.example:2222");
        assert_eq!(target.path, "/Meteo2");
        assert!(WeatherSource::resolve(Some("sftp://:pw@/x"), &sftp).is_err());
        assert!(matches!(
            WeatherSource::resolve(Some("/data/meteo"), &sftp).unwrap(),
            Some(WeatherSource::Local(_))
        ));
        assert!(WeatherSource::resolve(None, &sftp).unwrap().is_none());
    }

    #[test]
    fn two_different_reference_sources_are_refused() {
        assert!(ReferenceSource::resolve(Some("mysql://a@h/pidb"), Some("/csv")).is_err());
        assert_eq!(
            ReferenceSource::resolve(None, Some("mariadb://a@h/pidb")).unwrap(),
            Some(ReferenceSource::Mysql("mysql://a@h/pidb".into()))
        );
    }
}
