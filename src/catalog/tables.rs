//! Every table datacycle writes, declared once: bronze's tables by name, gold's with their query,
//! partitioning, primary key, inputs and context days. The build, publish, the docs and the
//! tests read these declarations; nothing else lists tables.

use super::queries::{self as q, QueryFile};
use crate::lake::{Layer, TableRef};

/// `bronze.sensor_readings`: one row per JSON leaf of a sensor file.
pub fn sensor_readings() -> TableRef {
    TableRef::bronze("sensor_readings")
}

/// `bronze.sensor_files`: one row per sensor file with its outcome.
pub fn sensor_files() -> TableRef {
    TableRef::bronze("sensor_files")
}

/// `bronze.weather_rows`: one row per forecast CSV row, as text.
pub fn weather_rows() -> TableRef {
    TableRef::bronze("weather_rows")
}

/// `bronze.weather_files`: one row per forecast file with its outcome.
pub fn weather_files() -> TableRef {
    TableRef::bronze("weather_files")
}

/// The reference tables datacycle imports from MySQL `pidb`, in SPEC order. Only these are
/// ever queried: the others hold personal data and are never touched.
pub const REFERENCE_TABLES: [&str; 10] = [
    "buildings",
    "buildingtype",
    "rooms",
    "sensors",
    "devices",
    "profilereference",
    "profile",
    "parameters",
    "parameterstype",
    "dierrors",
];

/// The columns read from `buildings`, the one imported table with personal columns: the
/// building's attributes and `houseName`, which matches a building to its apartment through
/// HOUSE_MAP. `idUser`, `firstName`, `lastName`, `address`, `phoneNumber`, `latitude` and
/// `longitude` are never read (GDPR minimisation at the source): nothing in the lake uses them,
/// so they reach no layer of it, not even bronze. Matched ignoring case, like every reference
/// column (the case drifts between installs).
pub const BUILDINGS_COLUMNS: [&str; 8] = [
    "idBuilding",
    "idBuildingType",
    HOUSE_NAME,
    "npa",
    "city",
    "buildingYear",
    "nbPeople",
    "isHeatingOn",
];

/// The column of `buildings` holding the House of the sensor file names: usually its residents'
/// names (`JimmyLoup`), blanked in every snapshot when the apartment is erased.
pub const HOUSE_NAME: &str = "houseName";

/// The columns read from a reference table: `None` for all of them.
pub fn imported_columns(source_table: &str) -> Option<&'static [&'static str]> {
    (source_table == "buildings").then_some(&BUILDINGS_COLUMNS[..])
}

/// `bronze.ref_<table>`: the snapshots of a reference table.
pub fn reference_snapshot(source_table: &str) -> TableRef {
    TableRef::bronze(&format!("ref_{source_table}"))
}

/// The column of a reference snapshot that holds when it was taken.
pub const SNAPSHOT_AT: &str = "snapshot_at";

/// A gold table: its query (the table is named after the file) and how it is maintained.
#[derive(Debug, Clone, Copy)]
pub struct GoldTable {
    pub query: QueryFile,
    pub kind: Kind,
    /// The primary key PostgreSQL gets (the lake guarantees it).
    pub primary_key: &'static [&'static str],
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Recomputed when its inputs changed, written when its content changed.
    Whole(Whole),
    /// Recomputed per changed day of its input.
    Daily(Daily),
}

/// How a whole table follows its inputs.
#[derive(Debug, Clone, Copy)]
pub struct Whole {
    /// Input tables of which the query reads only partition columns, and only through values
    /// that do not count rows (`DISTINCT`, `min`, `max`): which partitions exist decides the
    /// table's rows, not every commit to them. Checked against the optimized plan at run time
    /// (any other column read, and the table's version counts after all).
    pub partitions_of: &'static [(Layer, &'static str)],
}

/// How a daily fact follows its input.
#[derive(Debug, Clone, Copy)]
pub struct Daily {
    /// The silver table the days come from, partitioned by `input_date`.
    pub input: (Layer, &'static str),
    pub input_date: &'static str,
    /// The output's partition column: `date_key` (INT `YYYYMMDD`) or a DATE column.
    pub partition: Partition,
    /// The input days a computed day's rows are made from, as offsets from that day (`-1`: the
    /// day before). Only these days are read: the week-back lag of the energy features reads
    /// the day a week earlier, not the six days between.
    pub context_days: &'static [i64],
    /// Other tables whose change recomputes every day.
    pub depends_on: &'static [(Layer, &'static str)],
}

#[derive(Debug, Clone, Copy)]
pub enum Partition {
    DateKey,
    Date(&'static str),
}

impl Partition {
    /// The partition column's name.
    pub fn column(&self) -> &'static str {
        match self {
            Self::DateKey => "date_key",
            Self::Date(column) => column,
        }
    }
}

const fn whole(query: QueryFile, primary_key: &'static [&'static str]) -> GoldTable {
    whole_by_partitions(query, primary_key, &[])
}

const fn whole_by_partitions(
    query: QueryFile,
    primary_key: &'static [&'static str],
    partitions_of: &'static [(Layer, &'static str)],
) -> GoldTable {
    GoldTable {
        query,
        kind: Kind::Whole(Whole { partitions_of }),
        primary_key,
    }
}

/// The apartments and days with data: the partition columns of `silver.device_days`.
const DEVICE_DAYS_PARTITIONS: &[(Layer, &str)] = &[(Layer::Silver, "device_days")];

const fn sensor_fact(
    query: QueryFile,
    context_days: &'static [i64],
    primary_key: &'static [&'static str],
) -> GoldTable {
    GoldTable {
        query,
        primary_key,
        kind: Kind::Daily(Daily {
            input: (Layer::Silver, "sensor_events"),
            input_date: "date",
            partition: Partition::DateKey,
            context_days,
            depends_on: &[],
        }),
    }
}

/// Every gold table in build order: a table comes after the tables it reads. Consecutive tables
/// that read none of each other are built together (`gold_stages`), so the cheap and the
/// expensive ones are mixed.
pub const GOLD: &[GoldTable] = &[
    whole(q::DIM_TARIFF, &["provider", "year"]),
    whole(q::DIM_WEATHER_SITE, &["site_key"]),
    GoldTable {
        query: q::FACT_WEATHER_HOUR,
        primary_key: &["datetime_key", "site_key", "prediction_date"],
        kind: Kind::Daily(Daily {
            input: (Layer::Silver, "weather_forecasts"),
            input_date: "prediction_date",
            partition: Partition::Date("prediction_date"),
            context_days: &[0],
            depends_on: &[],
        }),
    },
    whole(q::WEATHER_BEST_FORECAST, &["datetime_key", "site_key"]),
    whole_by_partitions(q::DIM_APARTMENT, &["apartment_key"], DEVICE_DAYS_PARTITIONS),
    whole(q::DIM_ROOM, &["room_key"]),
    whole(q::DIM_DEVICE, &["device_key"]),
    // The calendars span the sensor days and the forecast hours.
    whole_by_partitions(q::DIM_DATE, &["date_key"], DEVICE_DAYS_PARTITIONS),
    whole_by_partitions(q::DIM_DATETIME, &["datetime_key"], DEVICE_DAYS_PARTITIONS),
    sensor_fact(
        q::FACT_ENERGY_MINUTE,
        &[-1, 0],
        &["datetime_key", "device_key"],
    ),
    sensor_fact(
        q::FACT_ENVIRONMENT_MINUTE,
        &[0],
        &["datetime_key", "room_key"],
    ),
    sensor_fact(q::FACT_PRESENCE_MINUTE, &[0], &["datetime_key", "room_key"]),
    // Machine-learning features (SPEC §7): lag-1 and the same slot yesterday look a day back.
    sensor_fact(
        q::ML_OCCUPANCY_FEATURES,
        &[-1, 0],
        &["apartment", "room", "slot_ts"],
    ),
    GoldTable {
        query: q::FACT_DEVICE_HEALTH_DAY,
        primary_key: &["date_key", "device_key"],
        kind: Kind::Daily(Daily {
            input: (Layer::Silver, "device_days"),
            input_date: "date",
            partition: Partition::DateKey,
            context_days: &[-1, 0, 1],
            depends_on: &[(Layer::Silver, "sensor_errors")],
        }),
    },
    // Lags up to a week back; weather from the best forecast of each hour.
    GoldTable {
        query: q::ML_ENERGY_FEATURES,
        primary_key: &["apartment", "room", "slot_ts"],
        kind: Kind::Daily(Daily {
            input: (Layer::Silver, "sensor_events"),
            input_date: "date",
            partition: Partition::DateKey,
            context_days: &[-7, -1, 0],
            depends_on: &[(Layer::Gold, "weather_best_forecast")],
        }),
    },
];

impl GoldTable {
    /// The table's name in schema `gold` (the query file's stem).
    pub fn name(&self) -> &'static str {
        self.query.stem()
    }

    pub fn table(&self) -> TableRef {
        TableRef::gold(self.name())
    }

    /// Whether this table's query reads `other`: names it (in its own SQL or in a query file it
    /// includes with `query_file`) or declares it among its inputs. Reading itself (a dimension
    /// keeping its keys) does not count.
    pub fn reads(&self, other: &GoldTable) -> bool {
        if self.name() == other.name() {
            return false;
        }
        let declared = match self.kind {
            Kind::Daily(daily) => daily.depends_on.contains(&(Layer::Gold, other.name())),
            Kind::Whole(_) => false,
        };
        declared || names_table(self.query, &format!("gold.{}", other.name()), 0)
    }
}

/// Whether `query`, or a query file it includes (to a depth of 4), names `table` (a whole word:
/// `gold.dim_date` is not in `gold.dim_datetime`).
fn names_table(query: QueryFile, table: &str, depth: usize) -> bool {
    let whole_word = query.sql.match_indices(table).any(|(at, _)| {
        let next = query.sql[at + table.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    whole_word
        || depth < 4
            && q::all()
                .filter(|file| query.sql.contains(&format!("query_file('{}')", file.path)))
                .any(|file| names_table(file, table, depth + 1))
}

/// `GOLD` in build stages: runs of consecutive tables none of which reads another of the same
/// run, so a stage's tables may be built at the same time; a table that reads one of the run
/// starts the next stage.
pub fn gold_stages() -> Vec<&'static [GoldTable]> {
    let mut stages = Vec::new();
    let mut start = 0;
    for (index, table) in GOLD.iter().enumerate() {
        if GOLD[start..index]
            .iter()
            .any(|earlier| table.reads(earlier))
        {
            stages.push(&GOLD[start..index]);
            start = index;
        }
    }
    stages.push(&GOLD[start..]);
    stages
}

/// A gold table written by `ml` rather than by a query, partitioned by `target`.
#[derive(Debug, Clone, Copy)]
pub struct ResultTable {
    pub name: &'static str,
    pub primary_key: &'static [&'static str],
}

/// The tables of ML results (SPEC §7).
pub const ML_RESULTS: &[ResultTable] = &[
    ResultTable {
        name: "ml_benchmark",
        primary_key: &["run_id", "target", "model"],
    },
    ResultTable {
        name: "fact_prediction",
        primary_key: &[
            "run_id",
            "target",
            "apartment",
            "room",
            "slot_ts",
            "horizon_slots",
        ],
    },
];

/// A table that `publish` copies to PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub struct PublishedTable {
    pub name: &'static str,
    pub primary_key: &'static [&'static str],
    /// How a daily fact follows its input (its changed days can be published alone); `None`:
    /// published whole.
    pub daily: Option<Daily>,
}

/// Every published table: the gold tables in build order, then the ML results.
pub fn published() -> impl Iterator<Item = PublishedTable> {
    let gold = GOLD.iter().map(|t| PublishedTable {
        name: t.name(),
        primary_key: t.primary_key,
        daily: match t.kind {
            Kind::Daily(daily) => Some(daily),
            Kind::Whole(_) => None,
        },
    });
    gold.chain(ML_RESULTS.iter().map(|t| PublishedTable {
        name: t.name,
        primary_key: t.primary_key,
        daily: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &str) -> String {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// What a table reads is found in its SQL and in the query files it includes, and a table
    /// that reads another is built in a later stage.
    #[test]
    fn a_table_is_built_in_a_stage_after_the_tables_it_reads() {
        let table = |name: &str| GOLD.iter().find(|t| t.name() == name).unwrap();
        let reads = [
            ("weather_best_forecast", "fact_weather_hour"), // its own SQL
            ("dim_date", "fact_weather_hour"),              // through gold/data_range.sql
            ("ml_energy_features", "weather_best_forecast"), // declared, and ml/home_weather.sql
            ("fact_device_health_day", "dim_device"),
        ];
        let stages = gold_stages();
        let stage_of = |name: &str| {
            stages
                .iter()
                .position(|s| s.iter().any(|t| t.name() == name))
        };
        for (reader, read) in reads {
            assert!(table(reader).reads(table(read)), "{reader} reads {read}");
            assert!(
                stage_of(reader) > stage_of(read),
                "{reader} is built after {read}"
            );
        }
        assert!(!table("dim_date").reads(table("dim_datetime")));
        assert!(!table("dim_datetime").reads(table("dim_date")));
        assert!(!table("dim_apartment").reads(table("dim_apartment")));
        assert_eq!(stages.iter().map(|s| s.len()).sum::<usize>(), GOLD.len());
        for stage in &stages {
            for (a, b) in stage.iter().flat_map(|a| stage.iter().map(move |b| (a, b))) {
                assert!(
                    !a.reads(b),
                    "{} reads {} of its own stage",
                    a.name(),
                    b.name()
                );
            }
        }
        assert!(stages.iter().any(|s| s.len() > 4), "stages: {stages:?}");
    }

    /// The declarations are what the docs and PostgreSQL's comments describe: every gold table
    /// has its row in docs/lake-schema.md naming its key columns, and a table comment.
    #[test]
    fn every_gold_table_is_documented_with_its_key() {
        let docs = read("docs/lake-schema.md");
        let comments = read("queries/publish/comments.sql");
        for table in GOLD {
            let name = table.name();
            let row = docs
                .lines()
                .find(|l| l.starts_with(&format!("| `gold.{name}` |")))
                .unwrap_or_else(|| panic!("docs/lake-schema.md has no row for gold.{name}"));
            let grain = row.split('|').nth(2).unwrap_or_default();
            for column in table.primary_key {
                assert!(
                    grain.contains(column),
                    "gold.{name}: key column {column} not in `{grain}`"
                );
            }
            assert!(
                comments.contains(&format!("COMMENT ON TABLE gold.{name} IS")),
                "queries/publish/comments.sql has no comment for gold.{name}"
            );
            assert!(
                !table.primary_key.is_empty(),
                "gold.{name} declares no primary key"
            );
        }
        for table in ML_RESULTS {
            let name = table.name;
            assert!(
                docs.lines()
                    .any(|l| l.starts_with(&format!("| `gold.{name}` |"))),
                "docs/lake-schema.md has no row for gold.{name}"
            );
            assert!(
                comments.contains(&format!("COMMENT ON TABLE gold.{name} IS")),
                "queries/publish/comments.sql has no comment for gold.{name}"
            );
        }
        let names: std::collections::HashSet<&str> = published().map(|t| t.name).collect();
        assert_eq!(
            names.len(),
            GOLD.len() + ML_RESULTS.len(),
            "a gold table is declared twice"
        );
    }
}
