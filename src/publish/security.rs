//! Who reads what: SELECT for every reader role on the published tables and the maps only, and
//! row-level security on every apartment-scoped table.

use std::collections::HashMap;

use datafusion::arrow::datatypes::Schema;
use tokio_postgres::Transaction;

use super::schema::{MAPS, PRINCIPAL_MAP};
use super::sql::ident;

/// The row-level security of one table, `{table}` its quoted name.
const APARTMENT_POLICY: &str = include_str!("../../queries/publish/apartment_policy.sql");
use super::{Result, Server};

/// Row-level security on every apartment-scoped table and SELECT for every reader role.
pub(super) async fn grant_and_protect(
    client: &Transaction<'_>,
    server: &Server,
    present: &HashMap<String, Schema>,
) -> Result<()> {
    let failed = |e: tokio_postgres::Error| server.error("applying grants and policies", e);
    let readers: Vec<String> = client
        .query(
            "SELECT DISTINCT m.role_name FROM gold.user_apartment_map m
             JOIN pg_roles r ON r.rolname = m.role_name
             UNION SELECT rolname FROM pg_roles WHERE rolname = $1",
            &[&ADMIN_READER],
        )
        .await
        .map_err(failed)?
        .iter()
        .map(|r| ident(r.get(0)))
        .collect();
    // Table by table: whatever else is in the schema stays the app role's alone.
    let mut granted: Vec<String> = present
        .keys()
        .map(|t| format!("gold.{}", ident(t)))
        .collect();
    granted.sort();
    granted.extend(MAPS.iter().map(|m| format!("gold.{}", ident(m))));
    let has_view: bool = client
        .query_one(
            "SELECT to_regclass('gold.mv_energy_with_cost') IS NOT NULL",
            &[],
        )
        .await
        .map_err(failed)?
        .get(0);
    if has_view {
        granted.push("gold.mv_energy_with_cost".into());
    }
    let mut sql = Vec::new();
    if !readers.is_empty() {
        let readers = readers.join(", ");
        sql.push(format!("GRANT USAGE ON SCHEMA gold TO {readers}"));
        sql.push(format!(
            "GRANT SELECT ON {} TO {readers}",
            granted.join(", ")
        ));
    }
    for (table, schema) in present {
        if !apartment_scoped(schema) {
            continue;
        }
        sql.push(APARTMENT_POLICY.replace("{table}", &ident(table)));
    }
    // A reader sees the user principal names of its own apartments only (the other map has a
    // policy of its own, queries/publish/schema.sql).
    sql.push(APARTMENT_POLICY.replace("{table}", &ident(PRINCIPAL_MAP)));
    client.batch_execute(&sql.join(";\n")).await.map_err(failed)
}

/// Whether readers see only their apartments' rows of `table`.
pub fn apartment_scoped(schema: &Schema) -> bool {
    schema.field_with_name("apartment_key").is_ok()
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
