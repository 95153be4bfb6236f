//! `datacycle pg init`: with the admin credentials of DB_ADMIN_URL (used for this call only),
//! create the app role and database of DB_URL, schema `gold` owned by the app role, the reader
//! roles and the map tables of row-level security. Every step checks first: running it again
//! changes nothing (but the app role's password, which it sets to DB_URL's).
//!
//! The app role is an ordinary login without CREATEROLE (on PostgreSQL ≤ 15 that attribute is
//! nearly superuser): roles are created here, by the admin connection, and `publish` only maps
//! apartments to roles that exist. Passwords travel as SCRAM-SHA-256 verifiers, so a server that
//! logs DDL never sees one in clear text.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::security::{ADMIN_READER, reader_role};
use super::sql::{ident, literal};
use super::{PublishError, Result, Server};
use crate::catalog::keys::surrogate_key_of;

const SCHEMA: &str = include_str!("../../queries/publish/schema.sql");

/// Prepare the server for `publish`; `apartments` get their reader roles and map rows now.
pub async fn init(admin: &Server, app: &Server, apartments: &[String]) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let (role, database) = (app.user(), app.database());
    if role.is_empty() || database.is_empty() {
        return Err(PublishError::Config(
            "DB_URL must name a user and a database: postgresql://user:password@host:5432/db"
                .into(),
        ));
    }
    let readers = reader_roles(apartments)?;
    let client = admin.connect().await?;
    let run = |what: &'static str| move |e: tokio_postgres::Error| admin.error(what, e);
    let exists = role_exists(&client, role)
        .await
        .map_err(run("looking up the app role"))?;
    let password = app
        .password()
        .map(|p| {
            let verifier = postgres_protocol::password::scram_sha_256(p.as_bytes());
            format!(" PASSWORD {}", literal(&verifier))
        })
        .unwrap_or_default();
    let verb = if exists { "ALTER" } else { "CREATE" };
    client
        .batch_execute(&format!(
            "{verb} ROLE {} LOGIN NOCREATEROLE NOCREATEDB NOSUPERUSER{password}",
            ident(role)
        ))
        .await
        .map_err(run("creating the app role"))?;
    done.push(format!(
        "app role {role} {}",
        if exists { "updated" } else { "created" }
    ));

    let has_database = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .map_err(run("looking up the database"))?
        .is_some();
    if !has_database {
        client
            .batch_execute(&format!(
                "CREATE DATABASE {} OWNER {}",
                ident(database),
                ident(role)
            ))
            .await
            .map_err(run("creating the database"))?;
        done.push(format!("database {database} created"));
    }
    let mut created = 0;
    for reader in std::iter::once(ADMIN_READER).chain(readers.values().map(String::as_str)) {
        if !role_exists(&client, reader)
            .await
            .map_err(run("looking up reader roles"))?
        {
            // Another database's init may create the same (cluster-wide) role meanwhile.
            client
                .batch_execute(&format!(
                    "DO $$ BEGIN CREATE ROLE {} LOGIN;
                     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
                    ident(reader)
                ))
                .await
                .map_err(run("creating reader roles"))?;
            created += 1;
        }
    }
    drop(client);

    let in_database = admin.with_database(database);
    let client = in_database.connect().await?;
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS gold AUTHORIZATION {role};
             ALTER SCHEMA gold OWNER TO {role};",
            role = ident(role)
        ))
        .await
        .map_err(|e| in_database.error("creating schema gold", e))?;
    drop(client);

    let client = app.connect().await?;
    prepare_schema(&client, app).await?;
    let mapped = map_readers(&client, app, apartments).await?;
    done.push(format!(
        "schema gold, {} reader role(s) ({created} new), gold.user_apartment_map, \
         gold.user_principal_apartment_map",
        readers.len() + 1,
    ));
    if !mapped.missing.is_empty() {
        done.push(format!(
            "reader roles missing: {}",
            mapped.missing.join(", ")
        ));
    }
    Ok(done)
}

/// The reader role of every apartment; two apartments never share one.
pub fn reader_roles(apartments: &[String]) -> Result<HashMap<String, String>> {
    let mut by_role: HashMap<String, &str> = HashMap::new();
    for apartment in apartments {
        let role = reader_role(apartment);
        if let Some(other) = by_role.insert(role.clone(), apartment)
            && other != apartment
        {
            return Err(PublishError::Config(format!(
                "apartments `{other}` and `{apartment}` would share the reader role {role}"
            )));
        }
    }
    Ok(by_role
        .into_iter()
        .map(|(role, apartment)| (apartment.to_string(), role))
        .collect())
}

async fn role_exists(client: &Client, role: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
        .await?
        .is_some())
}

/// The map table of row-level security (itself protected: a reader sees its own rows), the
/// staging schema and the publish bookkeeping, owned by the app role.
pub async fn prepare_schema(client: &Client, app: &Server) -> Result<()> {
    client.batch_execute(SCHEMA).await.map_err(|e| {
        app.error(
            "preparing schema gold (run `datacycle pg init` with DB_ADMIN_URL first)",
            e,
        )
    })
}

/// What [`map_readers`] did.
pub struct MappedReaders {
    /// Reader roles given schema access (existing roles only).
    pub roles: usize,
    /// Roles that do not exist (yet): `pg init` creates them.
    pub missing: Vec<String>,
}

/// Map each apartment to its reader role and every apartment to `reader_admin`, for the roles
/// that exist; the app role cannot create roles, so the others are reported.
pub async fn map_readers(
    client: &Client,
    app: &Server,
    apartments: &[String],
) -> Result<MappedReaders> {
    let failed = |e: tokio_postgres::Error| app.error("mapping reader roles", e);
    let readers = reader_roles(apartments)?;
    let mut mapped = MappedReaders {
        roles: 0,
        missing: Vec::new(),
    };
    let all_keys: Vec<i64> = apartments
        .iter()
        .map(|a| surrogate_key_of([a.as_str()]))
        .collect();
    let mut targets: Vec<(&str, Vec<i64>)> = vec![(ADMIN_READER, all_keys)];
    for apartment in apartments {
        targets.push((
            readers[apartment].as_str(),
            vec![surrogate_key_of([apartment.as_str()])],
        ));
    }
    for (role, keys) in targets {
        if !role_exists(client, role).await.map_err(failed)? {
            mapped.missing.push(role.to_string());
            continue;
        }
        client
            .batch_execute(&format!("GRANT USAGE ON SCHEMA gold TO {}", ident(role)))
            .await
            .map_err(failed)?;
        client
            .execute(
                "INSERT INTO gold.user_apartment_map (role_name, apartment_key)
                 SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
                &[&role, &keys],
            )
            .await
            .map_err(failed)?;
        mapped.roles += 1;
    }
    Ok(mapped)
}
