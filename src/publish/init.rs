//! `datacycle pg init`: with the admin credentials of DB_ADMIN_URL (used for this call only),
//! create the app role and database of DB_URL, schema `gold` owned by the app role, the reader
//! roles and the map table of row-level security. Every step checks first: running it again
//! changes nothing (but the app role's password, which it sets to DB_URL's).

use tokio_postgres::Client;

use super::schema::{ADMIN_READER, reader_role};
use super::{PublishError, Result, Server};
use crate::transform::keys::surrogate_key_of;

/// A PostgreSQL identifier, quoted.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A PostgreSQL string literal (utility statements take no parameters).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

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
    let client = admin.connect().await?;
    let run = |what: &'static str| move |e: tokio_postgres::Error| admin.error(what, e);
    let exists = client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
        .await
        .map_err(run("looking up the app role"))?
        .is_some();
    let password = app
        .password()
        .map(|p| format!(" PASSWORD {}", literal(&p)))
        .unwrap_or_default();
    let verb = if exists { "ALTER" } else { "CREATE" };
    client
        .batch_execute(&format!(
            "{verb} ROLE {} LOGIN CREATEROLE{password}",
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
    let created = ensure_readers(&client, app, apartments).await?;
    done.push(format!(
        "schema gold, {} reader role(s) ({} new), gold.user_apartment_map",
        apartments.len() + 1,
        created
    ));
    Ok(done)
}

/// The map table of row-level security and the publish bookkeeping, owned by the app role.
pub async fn prepare_schema(client: &Client, app: &Server) -> Result<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS gold.user_apartment_map (
                 role_name text NOT NULL,
                 apartment_key bigint NOT NULL,
                 PRIMARY KEY (role_name, apartment_key)
             );
             CREATE TABLE IF NOT EXISTS gold._datacycle_published (
                 table_name text PRIMARY KEY,
                 lake_version bigint NOT NULL,
                 published_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await
        .map_err(|e| {
            app.error(
                "preparing schema gold (run `datacycle pg init` with DB_ADMIN_URL first)",
                e,
            )
        })
}

/// Create the missing reader roles (`reader_admin`, `reader_<apartment>`) and their map rows;
/// returns how many roles were created.
pub async fn ensure_readers(client: &Client, app: &Server, apartments: &[String]) -> Result<usize> {
    let failed = |e: tokio_postgres::Error| app.error("creating reader roles", e);
    let mut created = 0;
    let roles = std::iter::once((ADMIN_READER.to_string(), None)).chain(
        apartments
            .iter()
            .map(|a| (reader_role(a), Some(a.as_str()))),
    );
    for (role, apartment) in roles {
        let exists = client
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
            .await
            .map_err(failed)?
            .is_some();
        if !exists {
            // Another database's publish may create the same (cluster-wide) role meanwhile.
            client
                .batch_execute(&format!(
                    "DO $$ BEGIN CREATE ROLE {} LOGIN;
                     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
                    ident(&role)
                ))
                .await
                .map_err(failed)?;
            created += 1;
        }
        client
            .batch_execute(&format!("GRANT USAGE ON SCHEMA gold TO {}", ident(&role)))
            .await
            .map_err(failed)?;
        let keys: Vec<i64> = match apartment {
            Some(apartment) => vec![surrogate_key_of([apartment])],
            None => apartments
                .iter()
                .map(|a| surrogate_key_of([a.as_str()]))
                .collect(),
        };
        for key in keys {
            client
                .execute(
                    "INSERT INTO gold.user_apartment_map (role_name, apartment_key)
                     VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&role, &key],
                )
                .await
                .map_err(failed)?;
        }
    }
    client
        .batch_execute("GRANT SELECT ON gold.user_apartment_map TO PUBLIC")
        .await
        .map_err(failed)?;
    Ok(created)
}
