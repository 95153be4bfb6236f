//! What PostgreSQL gets besides the rows: primary keys, foreign keys, indexes and row-level
//! security, derived from the gold tables' columns by one rule each (keys are named alike in
//! every table), so a new gold table is served correctly without a list to update.

use datafusion::arrow::datatypes::Schema;

/// Each surrogate or calendar key column and the dimension it identifies.
pub const KEY_DIMENSIONS: &[(&str, &str)] = &[
    ("date_key", "dim_date"),
    ("datetime_key", "dim_datetime"),
    ("apartment_key", "dim_apartment"),
    ("room_key", "dim_room"),
    ("device_key", "dim_device"),
    ("site_key", "dim_weather_site"),
    ("weather_site_key", "dim_weather_site"),
];

/// Columns indexed in every table that has them (SPEC §8).
pub const INDEXED: &[&str] = &["date_key", "apartment_key", "room_key"];

/// The primary key of a gold table.
pub fn primary_key(table: &str) -> &'static [&'static str] {
    match table {
        "dim_date" => &["date_key"],
        "dim_datetime" => &["datetime_key"],
        "dim_apartment" => &["apartment_key"],
        "dim_room" => &["room_key"],
        "dim_device" => &["device_key"],
        "dim_tariff" => &["provider", "year"],
        "dim_weather_site" => &["site_key"],
        "fact_energy_minute" => &["datetime_key", "device_key"],
        "fact_environment_minute" | "fact_presence_minute" => &["datetime_key", "room_key"],
        "fact_device_health_day" => &["date_key", "device_key"],
        "fact_weather_hour" => &["datetime_key", "site_key", "prediction_date"],
        "weather_best_forecast" => &["datetime_key", "site_key"],
        _ => &[],
    }
}

/// (column, dimension) of every foreign key of `table`.
pub fn foreign_keys(table: &str, schema: &Schema) -> Vec<(&'static str, &'static str)> {
    KEY_DIMENSIONS
        .iter()
        .filter(|(column, dimension)| *dimension != table && schema.field_with_name(column).is_ok())
        .copied()
        .collect()
}

/// Whether readers see only their apartments' rows of `table`.
pub fn apartment_scoped(schema: &Schema) -> bool {
    schema.field_with_name("apartment_key").is_ok()
}

/// `"a", "b"` for SQL.
pub fn column_list(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The role that reads one apartment's rows.
pub fn reader_role(apartment: &str) -> String {
    let safe: String = apartment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("reader_{safe}")
}

/// The role that reads every apartment.
pub const ADMIN_READER: &str = "reader_admin";
