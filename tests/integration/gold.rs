//! Gold on generated data: built tick by tick it equals one full rebuild, surrogate keys survive
//! new members, and every fact key exists in its dimension.

use std::collections::BTreeMap;

use crate::common::{TestEnv, files_by_minute, generate, temp_dir};

fn gold_only(
    digests: BTreeMap<String, datacycle::lake::TableDigest>,
) -> BTreeMap<String, datacycle::lake::TableDigest> {
    digests
        .into_iter()
        .filter(|(name, _)| name.starts_with("gold."))
        .collect()
}

/// (table.key, rows whose key has no member in its dimension) for every key column of every
/// gold table (the key columns and their dimensions as publish declares them). An anti-join: a
/// NULL key is an orphan too (`NOT IN` would let it pass).
async fn orphans(env: &TestEnv) -> Vec<(String, i64)> {
    use datacycle::publish::schema::{KEY_DIMENSIONS, primary_key};
    let session = env.session().await;
    let mut found = Vec::new();
    for table in session.lake().list_tables().await.unwrap() {
        if !table.to_string().starts_with("gold.") {
            continue;
        }
        let frame = session
            .ctx()
            .table(table.to_string().as_str())
            .await
            .unwrap();
        for (column, dimension) in KEY_DIMENSIONS {
            if *dimension == table.name
                || frame.schema().field_with_unqualified_name(column).is_err()
            {
                continue;
            }
            let member = primary_key(dimension)[0];
            let sql = format!(
                "SELECT count(*) FROM {table} f LEFT JOIN gold.{dimension} d ON f.{column} = d.{member} \
                 WHERE d.{member} IS NULL"
            );
            found.push((format!("{}.{column}", table.name), env.count(&sql).await));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn gold_ticks_equal_a_full_rebuild_and_keys_stay_stable() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 10, 2);
    let reference = generated.mysql.to_string_lossy().to_string();

    // Tick by tick: half a day of sensor files at a time, as `watch` would see them arrive.
    let staged = TestEnv::new()
        .with_weather(&generated.sftp)
        .with_reference(&reference);
    staged.run(&["ingest", "weather"]);
    staged.run(&["ingest", "reference"]);
    let files = files_by_minute(&generated.smb);
    let ticks = 20;
    for slice in files.chunks(files.len().div_ceil(ticks)) {
        for file in slice {
            std::fs::copy(file, staged.share.join(file.file_name().unwrap())).unwrap();
        }
        staged.run(&["ingest", "sensors", "--full"]);
        staged.run(&["build"]);
    }
    let ticked = gold_only(staged.digests().await);

    let whole = TestEnv::new()
        .with_share(&generated.smb)
        .with_weather(&generated.sftp)
        .with_reference(&reference);
    whole.run(&["rebuild"]);
    let full = gold_only(whole.digests().await);
    assert_eq!(
        full.len(),
        datacycle::catalog::tables::GOLD.len(),
        "every gold table exists: {full:?}"
    );
    assert!(full["gold.fact_energy_minute"].rows > 100_000, "{full:?}");
    assert!(full["gold.fact_weather_hour"].rows > 100, "{full:?}");
    assert!(full["gold.weather_best_forecast"].rows > 100, "{full:?}");
    assert_eq!(
        ticked, full,
        "gold built tick by tick differs from one full rebuild"
    );

    staged.run(&["build", "gold", "--full"]);
    assert_eq!(
        gold_only(staged.digests().await),
        full,
        "build gold --full changed gold"
    );

    let orphans = orphans(&staged).await;
    assert!(orphans.len() >= 21, "too few keys checked: {orphans:?}");
    assert!(
        orphans.iter().all(|(_, n)| *n == 0),
        "fact or dimension keys without a member: {orphans:?}"
    );

    // A new room on a later day gets a new key; every existing member keeps its key.
    let rooms_sql = "SELECT apartment_id, room_name, room_key FROM gold.dim_room ORDER BY 1, 2";
    let devices_sql = "SELECT device_id, device_key, room_key FROM gold.dim_device ORDER BY 1";
    let rooms_before = staged.query_csv(rooms_sql).await;
    let devices_before = staged.query_csv(devices_sql).await;
    let last = files.last().unwrap();
    let name = last.file_name().unwrap().to_string_lossy().to_string();
    let parsed = datacycle::lake::landing::sensors::SensorFileName::parse(&name).unwrap();
    let later = parsed.minute + chrono::Duration::days(1);
    let new_name = name.replacen(
        &parsed.minute.format("%d.%m.%Y %H%M").to_string(),
        &later.format("%d.%m.%Y %H%M").to_string(),
        1,
    );
    let body = std::fs::read_to_string(last).unwrap();
    let body = body
        .replacen(
            &parsed.minute.format("%d.%m.%Y %H:%M").to_string(),
            &later.format("%d.%m.%Y %H:%M").to_string(),
            1,
        )
        .replacen(
            "\"plugs\":{",
            "\"plugs\":{\"Sauna\":{\"power\":5,\"total\":10,\"temperature\":40},",
            1,
        );
    std::fs::write(staged.share.join(&new_name), body).unwrap();
    staged.run(&["ingest", "sensors", "--full"]);
    staged.run(&["build"]);
    let rooms_after = staged.query_csv(rooms_sql).await;
    let devices_after = staged.query_csv(devices_sql).await;
    let kept = |before: &str, after: &str| before.lines().all(|l| after.lines().any(|a| a == l));
    assert!(
        kept(&rooms_before, &rooms_after),
        "{rooms_before}\n---\n{rooms_after}"
    );
    assert!(
        kept(&devices_before, &devices_after),
        "{devices_before}\n---\n{devices_after}"
    );
    let sauna: Vec<&str> = rooms_after
        .lines()
        .filter(|l| l.contains(",Sauna,"))
        .collect();
    assert_eq!(sauna.len(), 1, "{rooms_after}");
    let sauna_key = sauna[0].rsplit(',').next().unwrap();
    assert!(
        !rooms_before
            .lines()
            .any(|l| l.ends_with(&format!(",{sauna_key}"))),
        "the new room reuses a key"
    );
    assert_eq!(
        rooms_after.lines().count(),
        rooms_before.lines().count() + 1
    );

    // Nothing new: no whole table is computed (its inputs' versions are the recorded ones) and
    // gold stays as it is; a setting its SQL reads recomputes the table it changes.
    let gold_before = gold_only(staged.digests().await);
    let whole_tables = datacycle::catalog::tables::GOLD
        .iter()
        .filter(|t| matches!(t.kind, datacycle::catalog::tables::Kind::Whole(_)))
        .count();
    let counter = |summary: &serde_json::Value, counter: &str| -> u64 {
        summary["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["counters"][counter].as_u64().unwrap_or(0))
            .sum()
    };
    let noop = staged.run(&["build", "gold", "--format", "json"]);
    let noop: serde_json::Value = serde_json::from_slice(&noop.stdout).unwrap();
    assert_eq!(
        counter(&noop, "tables_unchanged_inputs"),
        whole_tables as u64,
        "{noop}"
    );
    assert_eq!(counter(&noop, "tables_written"), 0, "{noop}");
    assert_eq!(gold_only(staged.digests().await), gold_before);
    // One more file in a day and apartment that already have data: the calendars and the
    // apartments follow which (apartment, day) partitions exist, so they are not computed; the
    // result still equals a full recompute.
    // (The minute before: the generated days end at 23:59.)
    let next = later - chrono::Duration::minutes(1);
    let next_name = name.replacen(
        &parsed.minute.format("%d.%m.%Y %H%M").to_string(),
        &next.format("%d.%m.%Y %H%M").to_string(),
        1,
    );
    let next_body = std::fs::read_to_string(last).unwrap().replacen(
        &parsed.minute.format("%d.%m.%Y %H:%M").to_string(),
        &next.format("%d.%m.%Y %H:%M").to_string(),
        1,
    );
    std::fs::write(staged.share.join(&next_name), next_body).unwrap();
    staged.run(&["ingest", "sensors", "--full"]);
    let tick = staged.run(&["build", "--format", "json"]);
    let tick: serde_json::Value = serde_json::from_slice(&tick.stdout).unwrap();
    for table in ["gold.dim_date", "gold.dim_datetime", "gold.dim_apartment"] {
        let step = crate::common::summary_step(&tick, table);
        assert_eq!(
            step["counters"]["tables_unchanged_inputs"], 1,
            "{table}: {tick}"
        );
    }
    let environment = crate::common::summary_step(&tick, "gold.fact_environment_minute");
    assert_eq!(
        environment["counters"]["partitions"], 1,
        "the tick's day: {tick}"
    );
    let ticked = gold_only(staged.digests().await);
    staged.run(&["build", "gold", "--full"]);
    assert_eq!(
        gold_only(staged.digests().await),
        ticked,
        "a skipped table was stale"
    );

    let zoned = staged
        .command()
        .env("REPORTING_TIMEZONE", "America/New_York")
        .args(["build", "gold", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        zoned.status.success(),
        "{}",
        String::from_utf8_lossy(&zoned.stderr)
    );
    let zoned: serde_json::Value = serde_json::from_slice(&zoned.stdout).unwrap();
    let datetime = crate::common::summary_step(&zoned, "gold.dim_datetime");
    assert_eq!(datetime["counters"]["tables_written"], 1, "{zoned}");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_prints_one_json_document_with_gold_headlines() {
    let env = TestEnv::new();
    let out = env.run(&["demo", "--days", "2", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let headlines = document["headlines"].as_array().expect("headlines");
    let apartments: Vec<&str> = headlines
        .iter()
        .map(|h| h["apartment"].as_str().unwrap())
        .collect();
    assert_eq!(apartments, ["jeremie", "jimmy"]);
    for headline in headlines {
        let kwh = headline["meter_kwh"].as_f64().expect("meter kWh");
        let chf = headline["meter_chf"].as_f64().expect("meter CHF");
        // Per-minute energy of a household over two days: tens of kWh, not a summed counter.
        assert!(kwh > 1.0 && kwh < 200.0, "{headline}");
        assert!((chf - kwh * 0.34).abs() < 0.05, "{headline}");
        assert!(
            headline["occupancy_pct"].as_f64().unwrap() > 0.0,
            "{headline}"
        );
    }
    let tables = document["tables"].as_array().unwrap();
    let gold = tables
        .iter()
        .filter(|t| t[0].as_str().unwrap().starts_with("gold."))
        .count();
    assert_eq!(gold, datacycle::catalog::tables::GOLD.len(), "{tables:?}");
    assert!(document["summary"]["steps"].as_array().unwrap().len() > 20);
}
