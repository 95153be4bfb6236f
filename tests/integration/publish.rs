//! Publishing gold to a real PostgreSQL (started by scripts/test.sh): round trip of every table
//! and every Arrow type, row-level security, atomic swaps under a reading client, SIGKILL during
//! COPY, a server that is down, incremental publish of changed days, `pg init` twice, Power BI's
//! incremental-refresh ranges, date table and maps.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use datacycle::publish::Server;
use datacycle::publish::copy::{CopyEncoder, column_definitions};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray, StringViewArray, TimestampMillisecondArray, TimestampNanosecondArray,
    UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use futures::SinkExt;

use crate::common::{TestEnv, env_var, generate, temp_dir, walk};

/// A fresh database on the test server for one test: (admin URL, app URL). The server checks
/// passwords (scram-sha-256): `pg init` sets the app role's from the app URL.
pub fn database_urls(name: &str) -> (String, String) {
    let admin = env_var("DATACYCLE_TEST_PG_ADMIN_URL");
    let port = env_var("DATACYCLE_TEST_PG_PORT");
    let database = format!("dc_{name}_{}", std::process::id());
    let app = format!("postgresql://datacycle_app:app-secret-9Zk@127.0.0.1:{port}/{database}");
    (admin, app)
}

/// The password of the admin URL scripts/test.sh generated.
fn admin_password() -> String {
    let admin = url::Url::parse(&env_var("DATACYCLE_TEST_PG_ADMIN_URL")).unwrap();
    admin
        .password()
        .expect("the admin URL has a password")
        .to_string()
}

/// The password tests give reader roles (`pg init` creates them without one).
const READER_PASSWORD: &str = "reader-secret-4Tq";

/// Cluster-wide role changes, one at a time: the tests share the server's roles, whose
/// concurrent updates PostgreSQL rejects ("tuple concurrently updated").
static ROLES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Run the admin statements `sql` with [`ROLES`] held (the guard is not held across an await of
/// this task: the statements run to completion on this thread).
fn change_roles(admin: &tokio_postgres::Client, sql: &str) {
    tokio::task::block_in_place(|| {
        let _one = ROLES.lock().unwrap_or_else(|e| e.into_inner());
        tokio::runtime::Handle::current()
            .block_on(admin.batch_execute(sql))
            .unwrap();
    })
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    Server::parse(url, "test").unwrap().connect().await.unwrap()
}

/// A reader connection: the app URL with another user, whose password the admin sets first.
pub async fn connect_as(app: &str, role: &str) -> tokio_postgres::Client {
    let admin = connect(&database_urls("any").0).await;
    change_roles(
        &admin,
        &format!("ALTER ROLE \"{role}\" PASSWORD '{READER_PASSWORD}'"),
    );
    connect(&app.replacen(
        "datacycle_app:app-secret-9Zk",
        &format!("{role}:{READER_PASSWORD}"),
        1,
    ))
    .await
}

/// `pg init`, one at a time (see [`ROLES`]).
pub fn pg_init(env: &TestEnv, admin: &str) -> std::process::Output {
    let _one = ROLES.lock().unwrap_or_else(|e| e.into_inner());
    let out = env
        .command()
        .args(["pg", "init"])
        .env("DB_ADMIN_URL", admin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A lake with gold built from `days` generated days, published to a fresh database.
pub async fn published_lake(name: &str, days: u32) -> (TestEnv, String, tempfile::TempDir) {
    let sources = temp_dir();
    let generated = generate(sources.path(), days, 2);
    let (admin, app) = database_urls(name);
    let env = TestEnv::new()
        .with_sources(&generated)
        .var("HOUSE_MAP", &generated.house_map.to_config_string())
        .var("DB_URL", &app);
    pg_init(&env, &admin);
    env.run(&["rebuild"]);
    (env, app, sources)
}

/// Canonical text of one value of an Arrow column, as `render_sql` renders it in PostgreSQL.
fn render_arrow(column: &ArrayRef, row: usize) -> String {
    if column.is_null(row) {
        return "NULL".into();
    }
    let column = match column.data_type() {
        DataType::Dictionary(_, _) | DataType::LargeUtf8 | DataType::Utf8View => {
            datafusion::arrow::compute::cast(column, &DataType::Utf8).unwrap()
        }
        DataType::Timestamp(unit, tz) if *unit != TimeUnit::Microsecond => {
            datafusion::arrow::compute::cast(
                column,
                &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
            )
            .unwrap()
        }
        _ => column.clone(),
    };
    use datafusion::arrow::datatypes::*;
    match column.data_type() {
        DataType::Float64 => hex::encode(
            column
                .as_primitive::<Float64Type>()
                .value(row)
                .to_be_bytes(),
        ),
        DataType::Float32 => hex::encode(
            column
                .as_primitive::<Float32Type>()
                .value(row)
                .to_be_bytes(),
        ),
        DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
        DataType::Boolean => column.as_boolean().value(row).to_string(),
        DataType::Timestamp(_, _) => column
            .as_primitive::<TimestampMicrosecondType>()
            .value(row)
            .to_string(),
        DataType::Date32 => column.as_primitive::<Date32Type>().value(row).to_string(),
        _ => datafusion::arrow::util::display::array_value_to_string(&column, row).unwrap(),
    }
}

/// SQL rendering each column of `schema` like `render_arrow`.
fn render_sql(schema: &datafusion::arrow::datatypes::Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| {
            let c = format!("\"{}\"", f.name());
            let text = match f.data_type() {
                DataType::Float64 => format!("encode(float8send({c}), 'hex')"),
                DataType::Float32 | DataType::Float16 => format!("encode(float4send({c}), 'hex')"),
                DataType::Timestamp(_, _) => {
                    format!("((extract(epoch FROM {c}) * 1000000)::numeric(30,0))::text")
                }
                DataType::Date32 => format!("({c} - DATE '1970-01-01')::text"),
                _ => format!("{c}::text"),
            };
            format!("coalesce({text}, 'NULL')")
        })
        .collect::<Vec<_>>()
        .join(" || '|' || ")
}

fn lake_rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let values: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| render_arrow(c, row))
                .collect();
            rows.push(values.join("|"));
        }
    }
    rows.sort();
    rows
}

async fn pg_rows(
    client: &tokio_postgres::Client,
    table: &str,
    schema: &datafusion::arrow::datatypes::Schema,
) -> Vec<String> {
    let sql = format!("SELECT {} FROM {table}", render_sql(schema));
    let mut rows: Vec<String> = client
        .query(&sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn every_arrow_type_round_trips_through_binary_copy() {
    let (admin, _) = database_urls("types");
    let client = connect(&admin).await;
    let strings = ["a", "", "Zürich 🌍", "x\"y'z"];
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "i8",
            Arc::new(Int8Array::from(vec![Some(-128), Some(0), None, Some(127)])),
        ),
        (
            "i16",
            Arc::new(Int16Array::from(vec![
                Some(i16::MIN),
                Some(1),
                None,
                Some(i16::MAX),
            ])),
        ),
        (
            "i32",
            Arc::new(Int32Array::from(vec![
                Some(i32::MIN),
                Some(-1),
                None,
                Some(i32::MAX),
            ])),
        ),
        (
            "i64",
            Arc::new(Int64Array::from(vec![
                Some(i64::MIN),
                Some(2),
                None,
                Some(i64::MAX),
            ])),
        ),
        (
            "u32",
            Arc::new(UInt32Array::from(vec![
                Some(0),
                Some(7),
                None,
                Some(u32::MAX),
            ])),
        ),
        (
            "f32",
            Arc::new(Float32Array::from(vec![
                Some(1.5),
                Some(-0.1),
                None,
                Some(f32::MAX),
            ])),
        ),
        (
            "f64",
            Arc::new(Float64Array::from(vec![
                Some(0.1 + 0.2),
                Some(-1e-300),
                None,
                Some(f64::INFINITY),
            ])),
        ),
        (
            "b",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])),
        ),
        (
            "utf8",
            Arc::new(StringArray::from(vec![
                Some(strings[0]),
                Some(strings[1]),
                None,
                Some(strings[3]),
            ])),
        ),
        (
            "large",
            Arc::new(LargeStringArray::from(vec![
                Some(strings[2]),
                None,
                Some(strings[1]),
                Some(strings[0]),
            ])),
        ),
        (
            "view",
            Arc::new(StringViewArray::from(vec![
                Some("a string longer than twelve bytes"),
                Some(strings[2]),
                None,
                Some(""),
            ])),
        ),
        (
            "dict",
            Arc::new(DictionaryArray::<Int32Type>::from_iter([
                Some("kitchen"),
                None,
                Some("kitchen"),
                Some("office"),
            ])),
        ),
        (
            "d",
            Arc::new(Date32Array::from(vec![
                Some(0),
                Some(19_587),
                None,
                Some(-1),
            ])),
        ),
        (
            "ts_utc",
            Arc::new(
                TimestampNanosecondArray::from(vec![
                    Some(1_692_316_800_123_456_000),
                    Some(0),
                    None,
                    Some(-1_000),
                ])
                .with_timezone("UTC"),
            ),
        ),
        (
            "ts_local",
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(1_692_316_800_123),
                None,
                Some(-86_400_000),
                Some(0),
            ])),
        ),
        (
            "dec",
            Arc::new(
                Decimal128Array::from(vec![Some(123_456_789), Some(-50), None, Some(0)])
                    .with_precision_and_scale(20, 4)
                    .unwrap(),
            ),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS type_probe; CREATE TABLE type_probe ({})",
            column_definitions(&batch.schema()).unwrap().join(", ")
        ))
        .await
        .unwrap();
    let sink = client
        .copy_in::<_, bytes::Bytes>("COPY type_probe FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    let mut encoder = CopyEncoder::new();
    encoder.encode(&batch).unwrap();
    sink.send(encoder.finish()).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 4);
    assert_eq!(
        pg_rows(&client, "type_probe", &batch.schema()).await,
        lake_rows(std::slice::from_ref(&batch))
    );
    // Independent of both renderings: PostgreSQL's own text of a few values.
    let row = client
        .query_one(
            "SELECT dec::text, ts_utc::text, d::text, view, dict FROM type_probe WHERE i16 = 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "-0.0050");
    assert_eq!(row.get::<_, String>(1), "1970-01-01 00:00:00+00");
    assert_eq!(row.get::<_, String>(2), "2023-08-18");
    assert_eq!(row.get::<_, String>(3), strings[2]);
    assert_eq!(row.get::<_, Option<String>>(4), None);
    let first: String = client
        .query_one("SELECT dec::text FROM type_probe WHERE i16 = -32768", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(first, "12345.6789");
    client.batch_execute("DROP TABLE type_probe").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn gold_round_trips_with_row_level_security_and_incremental_days() {
    let (env, app, _sources) = published_lake("roundtrip", 3).await;
    let session = env.session().await;
    let owner = connect(&app).await;
    let tables: Vec<String> = session
        .lake()
        .list_tables()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.to_string().starts_with("gold."))
        .map(|t| t.to_string())
        .collect();
    assert_eq!(
        tables.len(),
        datacycle::catalog::tables::GOLD.len(),
        "{tables:?}"
    );
    for table in &tables {
        let frame = session.ctx().table(table.as_str()).await.unwrap();
        let schema = frame.schema().as_arrow().clone();
        let lake = lake_rows(&frame.collect().await.unwrap());
        // The energy features need a week of history; this data set has a few days.
        assert!(
            !lake.is_empty() || table == "gold.ml_energy_features",
            "{table} is empty"
        );
        assert_eq!(
            pg_rows(&owner, table, &schema).await,
            lake,
            "{table} differs in PostgreSQL"
        );
    }

    // Row-level security: each reader sees its apartment only, reader_admin all, a role with
    // SELECT but no map row nothing.
    let scoped = [
        "dim_apartment",
        "dim_room",
        "dim_device",
        "fact_energy_minute",
        "fact_environment_minute",
        "fact_presence_minute",
        "fact_device_health_day",
        "mv_energy_with_cost",
    ];
    let jimmy_key = datacycle::catalog::keys::surrogate_key_of(["jimmy"]);
    let jimmy = connect_as(&app, "reader_jimmy").await;
    let admin_reader = connect_as(&app, "reader_admin").await;
    let admin = connect(&database_urls("roundtrip").0).await;
    change_roles(
        &admin,
        "DO $$ BEGIN CREATE ROLE reader_nobody LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    );
    owner
        .batch_execute("GRANT USAGE ON SCHEMA gold TO reader_nobody; GRANT SELECT ON ALL TABLES IN SCHEMA gold TO reader_nobody")
        .await
        .unwrap();
    let nobody = connect_as(&app, "reader_nobody").await;
    for table in scoped {
        let all = count(&owner, table, "").await;
        let own = count(&owner, table, &format!("WHERE apartment_key = {jimmy_key}")).await;
        assert!(own > 0 && own < all, "{table}: {own} of {all}");
        assert_eq!(
            count(&jimmy, table, "").await,
            own,
            "reader_jimmy on {table}"
        );
        assert_eq!(
            count(&admin_reader, table, "").await,
            all,
            "reader_admin on {table}"
        );
        assert_eq!(
            count(&nobody, table, "").await,
            0,
            "a role outside the map on {table}"
        );
    }
    assert!(
        jimmy
            .query_one("SELECT count(*) FROM gold.dim_date", &[])
            .await
            .is_ok()
    );

    // Incremental: one more file on the last day replaces that day (and the health day before)
    // only: the rows of the other days keep the transaction that wrote them.
    let versions = |table: &'static str| {
        let owner = &owner;
        async move {
            owner
                .query(
                    &format!(
                        "SELECT date_key, min(xmin::text) FROM gold.{table} GROUP BY 1 ORDER BY 1"
                    ),
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, i32>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>()
        }
    };
    let before = versions("fact_energy_minute").await;
    let env = with_next_minute(env);
    // `rebuild` publishes, DB_URL being set.
    let out = env.run(&["rebuild", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = crate::common::summary_step(&summary, "publish");
    assert!(
        step["counters"]["days_replaced"].as_u64().unwrap_or(0) >= 1,
        "{step}"
    );
    let after = versions("fact_energy_minute").await;
    let unchanged = before.iter().filter(|b| after.contains(b)).count();
    assert!(
        after != before && unchanged + 1 >= before.len(),
        "{before:?}\n{after:?}"
    );
    let session = env.session().await;
    let frame = session
        .ctx()
        .table("gold.fact_energy_minute")
        .await
        .unwrap();
    let schema = frame.schema().as_arrow().clone();
    assert_eq!(
        pg_rows(&owner, "gold.fact_energy_minute", &schema).await,
        lake_rows(&frame.collect().await.unwrap())
    );
}

/// The published tables PostgreSQL gives a generated `timestamp_utc` (those with a
/// `datetime_key` but no time column of their own): the minute facts, then the weather hours.
const TIMESTAMPED: [&str; 5] = [
    "fact_energy_minute",
    "fact_environment_minute",
    "fact_presence_minute",
    "fact_weather_hour",
    "weather_best_forecast",
];

/// The plan of Power BI's incremental-refresh query on `table`, with real parameters.
async fn range_plan(
    client: &tokio_postgres::Client,
    table: &str,
    from: chrono::NaiveDateTime,
    to: chrono::NaiveDateTime,
) -> String {
    let sql = format!(
        "EXPLAIN SELECT * FROM gold.{table} WHERE timestamp_utc >= $1 AND timestamp_utc < $2"
    );
    client
        .query(&sql, &[&from, &to])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Power BI (docs/power-bi.md): incremental refresh's `RangeStart <= timestamp_utc < RangeEnd`
/// is an index range scan, `dim_date.date` is a contiguous `date` calendar ("Mark as date
/// table"), and the maps deployers fill survive publishes.
#[tokio::test(flavor = "multi_thread")]
async fn power_bi_refresh_ranges_use_an_index_and_the_maps_survive_publishes() {
    let (env, app, _sources) = published_lake("powerbi", 2).await;
    let owner = connect(&app).await;
    for table in TIMESTAMPED {
        let row = owner
            .query_one(
                "SELECT data_type::text FROM information_schema.columns
                 WHERE table_schema = 'gold' AND table_name = $1 AND column_name = 'timestamp_utc'",
                &[&table],
            )
            .await
            .unwrap();
        assert_eq!(
            row.get::<_, String>(0),
            "timestamp without time zone",
            "{table}"
        );
        let wrong = count(
            &owner,
            table,
            "WHERE timestamp_utc IS NULL
                OR to_char(timestamp_utc, 'YYYYMMDDHH24MI')::bigint <> datetime_key",
        )
        .await;
        assert_eq!(
            wrong, 0,
            "gold.{table}.timestamp_utc is not its datetime_key"
        );
    }

    // Power BI connects as a reader (row-level security in the plan), after autovacuum has
    // gathered statistics. An hour of two days: the minute facts are large enough for the
    // planner to prefer the index by itself; the weather tables are a few pages, which the
    // planner reads whole unless told not to, so for them the test only shows the index serves.
    let tables: Vec<String> = TIMESTAMPED.iter().map(|t| format!("gold.{t}")).collect();
    owner
        .batch_execute(&format!("ANALYZE {}", tables.join(", ")))
        .await
        .unwrap();
    let reader = connect_as(&app, "reader_admin").await;
    for (i, table) in TIMESTAMPED.iter().enumerate() {
        let first: chrono::NaiveDateTime = owner
            .query_one(&format!("SELECT min(timestamp_utc) FROM gold.{table}"), &[])
            .await
            .unwrap()
            .get(0);
        let from = first + chrono::Duration::hours(1);
        let to = from + chrono::Duration::hours(1);
        let minute_fact = i < 3;
        reader
            .batch_execute(if minute_fact {
                "RESET enable_seqscan"
            } else {
                "SET enable_seqscan = off"
            })
            .await
            .unwrap();
        let plan = range_plan(&reader, table, from, to).await;
        assert!(
            plan.contains(&format!("{table}_timestamp_utc"))
                && !plan.contains(&format!("Seq Scan on {table}")),
            "gold.{table}: the range is no index scan on timestamp_utc:\n{plan}"
        );
    }

    // dim_date: a date column, one row per day, no gap, whole years, covering every fact day.
    let row = owner
        .query_one(
            "SELECT (SELECT data_type::text FROM information_schema.columns
                     WHERE table_schema = 'gold' AND table_name = 'dim_date'
                       AND column_name = 'date'),
                    count(*), count(DISTINCT date), (max(date) - min(date) + 1)::bigint,
                    to_char(min(date), 'MM-DD'), to_char(max(date), 'MM-DD')
             FROM gold.dim_date",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "date");
    let days: i64 = row.get(1);
    assert!(days >= 365, "{days}");
    assert_eq!(row.get::<_, i64>(2), days, "dim_date repeats a date");
    assert_eq!(row.get::<_, i64>(3), days, "dim_date has a gap");
    assert_eq!(
        (row.get::<_, String>(4), row.get::<_, String>(5)),
        ("01-01".to_string(), "12-31".to_string())
    );
    for table in &TIMESTAMPED[..3] {
        let outside = count(
            &owner,
            table,
            "f WHERE NOT EXISTS (SELECT 1 FROM gold.dim_date d WHERE d.date_key = f.date_key)",
        )
        .await;
        assert_eq!(outside, 0, "gold.{table} has days dim_date lacks");
    }

    // The maps are the deployer's: empty (the principal map) until filled, kept by every publish,
    // including one that swaps a table in again (a table of an earlier version without
    // timestamp_utc) and a full one.
    assert_eq!(count(&owner, "user_principal_apartment_map", "").await, 0);
    let jimmy_key = datacycle::catalog::keys::surrogate_key_of(["jimmy"]);
    let other_key: i64 = owner
        .query_one(
            "SELECT apartment_key FROM gold.dim_apartment WHERE apartment_id <> 'jimmy' LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    owner
        .execute(
            "INSERT INTO gold.user_principal_apartment_map VALUES ($1, $2), ($3, $4)",
            &[
                &"alice@example.org",
                &jimmy_key,
                &"bob@example.org",
                &other_key,
            ],
        )
        .await
        .unwrap();
    owner
        .execute(
            "INSERT INTO gold.user_apartment_map VALUES ('reader_analyst', $1)",
            &[&jimmy_key],
        )
        .await
        .unwrap();
    owner
        .batch_execute("ALTER TABLE gold.fact_presence_minute DROP COLUMN timestamp_utc")
        .await
        .unwrap();
    env.run(&["publish"]);
    let restored = owner
        .query_one(
            "SELECT count(*) FROM pg_indexes
             WHERE schemaname = 'gold' AND indexname = 'fact_presence_minute_timestamp_utc'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(
        restored, 1,
        "the table without timestamp_utc was not swapped in again"
    );
    env.run(&["publish", "--full"]);
    let principals: Vec<String> = owner
        .query(
            "SELECT user_principal_name FROM gold.user_principal_apartment_map ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(principals, ["alice@example.org", "bob@example.org"]);
    assert_eq!(
        count(
            &owner,
            "user_apartment_map",
            "WHERE role_name = 'reader_analyst'"
        )
        .await,
        1
    );
    // A reader sees the principals of its own apartments only.
    let jimmy = connect_as(&app, "reader_jimmy").await;
    let visible: Vec<String> = jimmy
        .query(
            "SELECT user_principal_name FROM gold.user_principal_apartment_map",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(visible, ["alice@example.org"]);
}

/// `env` with a share that has one more file: the minute after its last one.
fn with_next_minute(env: TestEnv) -> TestEnv {
    let last_file = crate::common::files_by_minute(&env.share).pop().unwrap();
    let name = last_file.file_name().unwrap().to_string_lossy().to_string();
    let parsed = datacycle::lake::landing::sensors::SensorFileName::parse(&name).unwrap();
    let next = parsed.minute + chrono::Duration::minutes(1);
    let extra = env.dir.path().join("extra");
    crate::common::copy_files(&env.share, &extra);
    let body = std::fs::read_to_string(&last_file).unwrap().replacen(
        &parsed.minute.format("%d.%m.%Y %H:%M").to_string(),
        &next.format("%d.%m.%Y %H:%M").to_string(),
        1,
    );
    let next_name = name.replacen(
        &parsed.minute.format("%d.%m.%Y %H%M").to_string(),
        &next.format("%d.%m.%Y %H%M").to_string(),
        1,
    );
    std::fs::write(extra.join(next_name), body).unwrap();
    TestEnv {
        share: extra,
        ..env
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_copies_the_version_it_records_even_from_a_stale_session() {
    let (env, app, _sources) = published_lake("snapshot", 2).await;
    // A session opened before gold changed (as a long `rebuild` holds one) publishes afterwards.
    let stale = env.session().await;
    let env = with_next_minute(env);
    env.run(&["ingest", "sensors"]);
    env.run(&["build"]);
    let server = Server::parse(&app, "DB_URL").unwrap();
    datacycle::publish::run::publish(&stale, &server, false, true)
        .await
        .unwrap();
    let owner = connect(&app).await;
    let fresh = env.session().await;
    for table in ["fact_energy_minute", "dim_datetime"] {
        let lake = fresh
            .ctx()
            .table(format!("gold.{table}"))
            .await
            .unwrap()
            .count()
            .await
            .unwrap() as i64;
        assert_eq!(count(&owner, table, "").await, lake, "gold.{table}");
        let version = fresh
            .lake()
            .open_table(&datacycle::lake::TableRef::gold(table))
            .await
            .unwrap()
            .unwrap()
            .version()
            .unwrap() as i64;
        let recorded: i64 = owner
            .query_one(
                "SELECT lake_version FROM gold._datacycle_published WHERE table_name = $1",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(recorded, version, "gold.{table}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_see_whole_tables_during_a_publish_and_a_killed_publish_changes_nothing() {
    let (env, app, _sources) = published_lake("atomic", 2).await;
    let owner = connect(&app).await;
    let count_sql = "SELECT (SELECT count(*) FROM gold.fact_energy_minute), (SELECT count(*) FROM gold.dim_datetime)";
    let published: (i64, i64) = {
        let r = owner.query_one(count_sql, &[]).await.unwrap();
        (r.get(0), r.get(1))
    };
    assert!(published.0 > 1000);

    // A reader loops while full publishes swap every table.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let client = connect_as(&app, "reader_admin").await;
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let row = client
                    .query_one(count_sql, &[])
                    .await
                    .expect("a read during publish failed");
                seen.push((row.get::<_, i64>(0), row.get::<_, i64>(1)));
            }
            seen
        })
    };
    for _ in 0..3 {
        env.run(&["publish", "--full"]);
    }
    stop.store(true, Ordering::Relaxed);
    let seen = reader.await.unwrap();
    assert!(seen.len() > 3, "the reader ran {} queries", seen.len());
    assert!(
        seen.iter().all(|s| *s == published),
        "a reader saw a partial table: {seen:?}"
    );

    // SIGKILL in the middle of a COPY (seen in pg_stat_activity): the published tables stay
    // as they were. Three kills, each in the COPY of another table.
    let copying = "SELECT query FROM pg_stat_activity WHERE application_name = 'datacycle' \
                   AND query LIKE 'COPY %' AND state = 'active'";
    let mut killed_in: Vec<String> = Vec::new();
    for _ in 0..15 {
        if killed_in.len() == 3 {
            break;
        }
        let mut child = spawn_full_publish(&env);
        let mut caught = None;
        while caught.is_none() && child.try_wait().unwrap().is_none() {
            caught = owner
                .query(copying, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .find(|q| !killed_in.contains(q));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let r = owner.query_one(count_sql, &[]).await.unwrap();
        assert_eq!(
            (r.get::<_, i64>(0), r.get::<_, i64>(1)),
            published,
            "after a kill during {caught:?}"
        );
        killed_in.extend(caught);
    }
    assert_eq!(killed_in.len(), 3, "kills during a COPY: {killed_in:?}");
    env.run(&["publish"]);
    env.run(&["publish", "--full"]);
    let r = owner.query_one(count_sql, &[]).await.unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), published);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_down_init_twice_and_no_secret_anywhere() {
    let (admin, app) = database_urls("secrets");
    let logs = temp_dir();
    let env = TestEnv::new()
        .var("DB_URL", &app)
        .var("LOG_DIR", &logs.path().to_string_lossy());
    for _ in 0..2 {
        let out = pg_init(&env, &admin);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains(&admin_password()) && !text.contains("app-secret-9Zk"),
            "{text}"
        );
    }
    env.run(&["build"]);
    env.run(&["publish"]);

    // Down: a port nobody listens on.
    let digests = env.digests().await;
    let down = "postgresql://datacycle_app:app-secret-9Zk@127.0.0.1:1/nowhere";
    let out = env
        .command()
        .args(["publish"])
        .env("DB_URL", down)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("127.0.0.1:1") && stderr.contains("cannot connect"),
        "{stderr}"
    );
    assert!(!stderr.contains("app-secret-9Zk"), "{stderr}");
    let out = env
        .command()
        .args(["rebuild"])
        .env("DB_URL", down)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        env.digests().await,
        digests,
        "a failed publish changed the lake"
    );

    // The admin password is in no file of the lake or the logs.
    for root in [env.lake.as_path(), logs.path()] {
        for entry in walk(root) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&admin_password()),
                "{} holds the admin password",
                entry.display()
            );
            assert!(
                !text.contains("app-secret-9Zk"),
                "{} holds the app password",
                entry.display()
            );
        }
    }
}

/// `publish --full` in the background, its output discarded.
fn spawn_full_publish(env: &TestEnv) -> std::process::Child {
    env.command()
        .args(["publish", "--full"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn count(client: &tokio_postgres::Client, table: &str, filter: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM gold.{table} {filter}");
    client.query_one(&sql, &[]).await.unwrap().get(0)
}

/// Every relation `role` can read, in any schema, with the columns that scope rows to an
/// apartment or a role: (schema.table, columns).
async fn readable_relations(reader: &tokio_postgres::Client) -> Vec<(String, Vec<String>)> {
    let rows = reader
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname),
                    array(SELECT a.attname::text FROM pg_attribute a
                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                            AND a.attname IN ('apartment_key', 'apartment_id', 'role_name'))
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND has_schema_privilege(n.oid, 'USAGE')
               AND has_table_privilege(c.oid, 'SELECT')
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// What `reader_jimmy` can read holds jimmy's rows only, in every schema it can reach.
async fn assert_jimmy_sees_only_jimmy(app: &str) {
    let jimmy = connect_as(app, "reader_jimmy").await;
    let key = datacycle::catalog::keys::surrogate_key_of(["jimmy"]);
    let relations = readable_relations(&jimmy).await;
    assert!(
        relations
            .iter()
            .any(|(t, _)| t == "gold.fact_energy_minute"),
        "{relations:?}"
    );
    for (relation, columns) in &relations {
        assert!(
            relation.starts_with("gold."),
            "reader_jimmy can read {relation}"
        );
        assert!(
            !relation.contains("_stage") && relation != "gold._datacycle_published",
            "reader_jimmy can read {relation}"
        );
        for column in columns {
            let foreign = match column.as_str() {
                "apartment_key" => format!("apartment_key IS DISTINCT FROM {key}"),
                "apartment_id" => "apartment_id IS DISTINCT FROM 'jimmy'".to_string(),
                _ => "role_name IS DISTINCT FROM 'reader_jimmy'".to_string(),
            };
            let sql = format!("SELECT count(*) FROM {relation} WHERE {foreign}");
            let other: i64 = jimmy.query_one(&sql, &[]).await.unwrap().get(0);
            assert_eq!(
                other, 0,
                "reader_jimmy reads {other} foreign rows of {relation}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_killed_after_staging_leaks_nothing_and_the_app_role_is_not_an_admin() {
    let (env, app, _sources) = published_lake("staging", 2).await;
    let owner = connect(&app).await;
    assert_jimmy_sees_only_jimmy(&app).await;

    // Kill a full publish as soon as a staged table is committed (its primary key exists); a
    // publish that swapped before the kill landed is tried again.
    let staged_sql = "SELECT count(*) FROM pg_indexes WHERE schemaname = 'gold_staging'";
    let mut left = 0i64;
    for _ in 0..5 {
        let mut child = spawn_full_publish(&env);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let mut staged = 0i64;
        while staged == 0
            && child.try_wait().unwrap().is_none()
            && std::time::Instant::now() < deadline
        {
            staged = owner.query_one(staged_sql, &[]).await.unwrap().get(0);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        left = owner.query_one(staged_sql, &[]).await.unwrap().get(0);
        if left > 0 {
            break;
        }
    }
    assert!(left > 0, "no publish was caught with a staged table");
    assert_jimmy_sees_only_jimmy(&app).await;

    // A plain publish afterwards empties staging; still nothing leaks.
    env.run(&["publish"]);
    let left: i64 = owner.query_one(staged_sql, &[]).await.unwrap().get(0);
    assert_eq!(left, 0, "staging survived the next publish");
    assert_jimmy_sees_only_jimmy(&app).await;

    // The app role may not create roles nor give itself more power.
    for attempt in [
        "CREATE ROLE dc_escalation LOGIN",
        "GRANT pg_read_server_files TO datacycle_app",
        "ALTER ROLE datacycle_app CREATEROLE",
        "ALTER ROLE datacycle_app SUPERUSER",
    ] {
        let error = owner.batch_execute(attempt).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{attempt}: {error:?}"
        );
    }
    // The password was sent as a SCRAM verifier.
    let admin = connect(&database_urls("staging").0).await;
    let stored: String = admin
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'datacycle_app'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stored.starts_with("SCRAM-SHA-256$"), "{stored}");
}
