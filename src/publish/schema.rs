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

/// Longest PostgreSQL identifier in bytes (NAMEDATALEN - 1); longer names are truncated.
const MAX_IDENTIFIER: usize = 63;
/// Hex digits of the hash that tells apart apartments whose role names would collide.
const ROLE_HASH_DIGITS: usize = 10;

/// The role that reads one apartment's rows: `reader_<apartment>` when the apartment id is a
/// plain lowercase identifier, else `reader_<sanitised, shortened>_<hash of the id>`. The
/// mapping is injective: plain names never end in `_<hash digits>`, hashed ones always do (a
/// collision between two hashed names would need equal 40-bit hashes, and `pg init` checks).
/// `admin` is reserved for [`ADMIN_READER`].
pub fn reader_role(apartment: &str) -> String {
    let safe: String = apartment
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let plain = format!("reader_{safe}");
    let hashed_shape = safe.len() > ROLE_HASH_DIGITS
        && safe.as_bytes()[safe.len() - ROLE_HASH_DIGITS - 1] == b'_'
        && safe[safe.len() - ROLE_HASH_DIGITS..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if safe == apartment && apartment != "admin" && plain.len() <= MAX_IDENTIFIER && !hashed_shape {
        return plain;
    }
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(apartment.as_bytes()));
    let keep = MAX_IDENTIFIER - "reader_".len() - 1 - ROLE_HASH_DIGITS;
    let prefix: String = safe.chars().take(keep).collect();
    format!("reader_{prefix}_{}", &digest[..ROLE_HASH_DIGITS])
}

/// The role that reads every apartment.
pub const ADMIN_READER: &str = "reader_admin";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_roles_are_distinct_valid_identifiers() {
        let long = "a".repeat(80);
        let long_other = format!("{}b", "a".repeat(79));
        let apartments = [
            "jimmy",
            "a-b",
            "a_b",
            "admin",
            "A",
            "a",
            &long,
            &long_other,
            "x_0123456789",
        ];
        let roles: Vec<String> = apartments.iter().map(|a| reader_role(a)).collect();
        assert_eq!(roles[0], "reader_jimmy");
        assert_eq!(roles[2], "reader_a_b");
        let unique: std::collections::BTreeSet<&String> = roles.iter().collect();
        assert_eq!(unique.len(), roles.len(), "{roles:?}");
        for role in &roles {
            assert!(role.len() <= MAX_IDENTIFIER, "{role}");
            assert_ne!(role, ADMIN_READER);
            assert!(
                role.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{role}"
            );
        }
        assert!(roles[8].len() > "reader_x_0123456789".len(), "{roles:?}");
    }
}
