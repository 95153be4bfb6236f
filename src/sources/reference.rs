//! The reference database (MySQL `pidb`): snapshots of exactly the ten tables datacycle imports,
//! from a MySQL/MariaDB server (`sources::mysql`) or from a folder of CSV exports.
//!
//! Only these tables are ever queried: the others hold personal data (users, actions, ...) and
//! are never touched, not even to count or list their columns. Of `buildings` only the columns
//! of `catalog::tables::BUILDINGS_COLUMNS` are read: its personal columns never reach the lake.

use std::path::Path;

use crate::catalog::tables::{REFERENCE_TABLES, imported_columns};
use crate::config::ReferenceSource;

use super::{Result, SourceError};

/// One table as read: column names as the source spells them, every value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSnapshot {
    pub table: &'static str,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// Values that were not valid UTF-8 (kept with U+FFFD in place of the bad bytes).
    pub replaced_values: u64,
}

/// What reading one table gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Table(TableSnapshot),
    /// The table does not exist in the source (the reason as the source put it).
    Missing(String),
}

/// Read every imported table from `source`.
pub async fn fetch_all(source: &ReferenceSource) -> Result<Vec<(&'static str, Fetched)>> {
    match source {
        ReferenceSource::Mysql(url) => super::mysql::fetch_tables(url, &REFERENCE_TABLES).await,
        ReferenceSource::Folder(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || fetch_folder(&dir))
                .await
                .map_err(|e| SourceError::Remote(e.to_string()))?
        }
    }
}

/// The positions of the imported columns of `table` among its `columns` (in the source's
/// order), or why the table counts as missing: it has none of them.
pub fn imported_positions(table: &str, columns: &[String]) -> Result<Vec<usize>, String> {
    let Some(imported) = imported_columns(table) else {
        return Ok((0..columns.len()).collect());
    };
    let positions: Vec<usize> = (0..columns.len())
        .filter(|&i| imported.iter().any(|c| c.eq_ignore_ascii_case(&columns[i])))
        .collect();
    if positions.is_empty() {
        return Err(format!(
            "it has none of the imported columns {}",
            imported.join(", ")
        ));
    }
    Ok(positions)
}

/// Text of raw bytes; invalid UTF-8 is replaced and counted.
pub fn text_of(bytes: &[u8], replaced: &mut u64) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => {
            *replaced += 1;
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

fn fetch_folder(dir: &Path) -> Result<Vec<(&'static str, Fetched)>> {
    if !dir.is_dir() {
        return Err(SourceError::Read {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
        });
    }
    REFERENCE_TABLES
        .iter()
        .map(|&table| {
            let path = dir.join(format!("{table}.csv"));
            if !path.exists() {
                return Ok((
                    table,
                    Fetched::Missing(format!("{} does not exist", path.display())),
                ));
            }
            read_csv(table, &path).map(|fetched| (table, fetched))
        })
        .collect()
}

/// The imported columns of a CSV export; the values of the others are skipped unread.
fn read_csv(table: &'static str, path: &Path) -> Result<Fetched> {
    let read_error = |e: csv::Error| SourceError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(read_error)?;
    let mut replaced_values = 0;
    let header: Vec<String> = reader
        .byte_headers()
        .map_err(read_error)?
        .iter()
        .map(|h| {
            text_of(h, &mut replaced_values)
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    let positions = match imported_positions(table, &header) {
        Ok(positions) => positions,
        Err(reason) => return Ok(Fetched::Missing(reason)),
    };
    let columns = positions.iter().map(|&i| header[i].clone()).collect();
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(read_error)?;
        rows.push(
            positions
                .iter()
                .map(|&i| {
                    let field = record.get(i).unwrap_or_default();
                    (!field.is_empty()).then(|| text_of(field, &mut replaced_values))
                })
                .collect(),
        );
    }
    Ok(Fetched::Table(TableSnapshot {
        table,
        columns,
        rows,
        replaced_values,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_mask() {
        let source = ReferenceSource::parse("mysql://reader:s3cret@db:3306/pidb");
        assert_eq!(
            source,
            ReferenceSource::Mysql("mysql://reader:s3cret@db:3306/pidb".into())
        );
        assert!(!source.display().contains("s3cret"));
        assert_eq!(
            ReferenceSource::parse("./exports"),
            ReferenceSource::Folder("./exports".into())
        );
    }

    #[test]
    fn a_folder_gives_text_nulls_and_missing_tables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rooms.csv"),
            b"idRoom,name\n1,Office\n2,\n3,K\xfcche\n",
        )
        .unwrap();
        let fetched = fetch_folder(dir.path()).unwrap();
        assert_eq!(fetched.len(), REFERENCE_TABLES.len());
        let rooms = fetched.iter().find(|(t, _)| *t == "rooms").unwrap();
        let Fetched::Table(rooms) = &rooms.1 else {
            panic!("rooms is there")
        };
        assert_eq!(rooms.columns, vec!["idRoom", "name"]);
        assert_eq!(rooms.rows[1], vec![Some("2".to_string()), None]);
        assert_eq!(rooms.rows[2][1].as_deref(), Some("K\u{fffd}che"));
        assert_eq!(rooms.replaced_values, 1);
        assert!(matches!(fetched[0].1, Fetched::Missing(_)));
    }

    #[test]
    fn buildings_keep_only_the_imported_columns_whatever_their_case() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("buildings.csv"),
            "idbuilding,idUser,HOUSENAME,firstName,lastName,latitude,longitude,address,phoneNumber,city\n\
             1,7,JimmyLoup,Jimmy,Loup,46.231947,7.358742,Rue 4,+41 79,Sion\n",
        )
        .unwrap();
        let Fetched::Table(buildings) =
            read_csv("buildings", &dir.path().join("buildings.csv")).unwrap()
        else {
            panic!("buildings is there")
        };
        assert_eq!(buildings.columns, vec!["idbuilding", "HOUSENAME", "city"]);
        assert_eq!(
            buildings.rows,
            vec![vec![
                Some("1".to_string()),
                Some("JimmyLoup".to_string()),
                Some("Sion".to_string())
            ]]
        );

        std::fs::write(
            dir.path().join("buildings.csv"),
            "firstName,lastName\nJimmy,Loup\n",
        )
        .unwrap();
        let fetched = read_csv("buildings", &dir.path().join("buildings.csv")).unwrap();
        assert!(
            matches!(&fetched, Fetched::Missing(reason) if reason.contains("none of the imported columns")),
            "{fetched:?}"
        );
    }
}
