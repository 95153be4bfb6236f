//! Landing as a table of file bytes: lossless (exported byte for byte), a file changed on the
//! share is landed again with its rows replaced, and a batch is a handful of objects.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::common::{TestEnv, copy_files, fixtures, generate, summary_step, temp_dir, walk};

/// sha256 of every file directly in `dir` whose name contains `filter`, by name.
fn checksums(dir: &Path, filter: &str) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .filter(|(name, _)| name.contains(filter))
        .map(|(name, p)| {
            let digest = hex::encode(Sha256::digest(std::fs::read(&p).unwrap()));
            (name, digest)
        })
        .collect()
}

fn modified_second(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn export_writes_every_landed_file_back_byte_for_byte() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 2);
    let env = TestEnv::new().with_share(&generated.smb);
    env.run(&["ingest", "sensors"]);

    let out = env.dir.path().join("export");
    let run = env.run(&[
        "landing",
        "export",
        "--apartment",
        "jimmy",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let share = checksums(&generated.smb, "_JimmyLoup_");
    assert!(share.len() > 1000, "{} files", share.len());
    assert_eq!(
        summary_step(&summary, "landing export")["files"],
        share.len()
    );
    assert_eq!(
        checksums(&out, ""),
        share,
        "exported files differ from the share"
    );
    for name in share.keys().take(20) {
        assert_eq!(
            modified_second(&out.join(name)),
            modified_second(&generated.smb.join(name)),
            "{name}: modification time"
        );
    }

    // One day only; a day without files writes nothing.
    let day = env.dir.path().join("one-day");
    let date = generated
        .smb
        .read_dir()
        .unwrap()
        .find_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let parsed = datacycle::lake::landing::sensors::SensorFileName::parse(&name)?;
            Some(parsed.minute.date())
        })
        .unwrap();
    let export_day = |date: &str, to: &Path| {
        env.run(&[
            "landing",
            "export",
            "--apartment",
            "jeremie",
            "--date",
            date,
            "--out",
            to.to_str().unwrap(),
        ])
    };
    export_day(&date.to_string(), &day);
    let jeremie: BTreeMap<String, String> = checksums(&generated.smb, "_JeremieVianin_")
        .into_iter()
        .filter(|(name, _)| {
            datacycle::lake::landing::sensors::SensorFileName::parse(name)
                .is_some_and(|n| n.minute.date() == date)
        })
        .collect();
    assert!(!jeremie.is_empty());
    assert_eq!(checksums(&day, ""), jeremie);
    let none = env.dir.path().join("no-day");
    export_day("2001-01-01", &none);
    assert!(!none.exists() || walk(&none).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_changed_on_the_share_is_landed_again_and_its_rows_replaced() {
    let env = TestEnv::new();
    copy_files(&fixtures("sensors/utc"), &env.share);
    env.run(&["rebuild"]);
    let name = "18.08.2023 1001_JimmyLoup_received.json";
    let landed_before = env.count("SELECT count(*) FROM landing.sensor_files").await;

    let changed = r#"{"datetime": "18.08.2023 10:01", "plugs": {"Office": {"power": 4321.5}}}"#;
    std::fs::write(env.share.join(name), changed).unwrap();
    let run = env.run(&["rebuild", "--full", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let ingest = summary_step(&summary, "ingest sensors");
    assert_eq!(ingest["counters"]["landed_again_changed"], 1, "{ingest}");
    assert_eq!(ingest["files"], 1, "{ingest}");
    let bronze = summary_step(&summary, "bronze sensors");
    assert_eq!(bronze["counters"]["replaced_changed_file"], 1, "{bronze}");

    assert_eq!(
        env.count("SELECT count(*) FROM landing.sensor_files").await,
        landed_before,
        "the changed file replaced its row"
    );
    let size = changed.len();
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM landing.sensor_files WHERE source_file = '{name}' \
             AND size = {size} AND content = CAST('{changed}' AS BYTEA)"
        ))
        .await,
        1
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM bronze.sensor_files WHERE source_file = '{name}' AND size = {size}"
        ))
        .await,
        1
    );
    // Silver holds the new file's one reading and nothing of the old one.
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM silver.sensor_events WHERE source_file = '{name}'"
        ))
        .await,
        env.count(&format!(
            "SELECT count(*) FROM silver.sensor_events WHERE source_file = '{name}' \
             AND value = 4321.5"
        ))
        .await
    );
    assert!(
        env.count(&format!(
            "SELECT count(*) FROM silver.sensor_events WHERE source_file = '{name}'"
        ))
        .await
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_landing_batch_is_a_handful_of_objects_not_one_per_file() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 2, 2);
    let env = TestEnv::new().with_share(&generated.smb);
    env.run(&["ingest", "sensors"]);
    let files = walk(&generated.smb)
        .iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            datacycle::lake::landing::sensors::SensorFileName::parse(&name).is_some()
        })
        .count();
    let objects = walk(&env.lake.join("landing")).len();
    // One data file per partition (2 apartments x 2 days) and a commit per batch.
    assert!(objects <= 12, "{objects} objects for {files} files");
    assert_eq!(
        env.count("SELECT count(*) FROM landing.sensor_files").await,
        files as i64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_whole_landed_days_once_they_are_in_bronze() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 3, 2);
    let env = TestEnv::new()
        .with_share(&generated.smb)
        .var("DATACYCLE_NOW", "2023-08-20T12:00:00Z")
        .var("RETENTION_LANDING_DAYS", "1");
    env.run(&["ingest", "sensors"]);
    let day =
        |date: &str| format!("SELECT count(*) FROM landing.sensor_files WHERE date = '{date}'");
    let first_day = env.count(&day("2023-08-18")).await;
    let landed = env.count("SELECT count(*) FROM landing.sensor_files").await;
    assert!(first_day > 0);
    let retention = |args: &[&str]| {
        let mut all = vec!["retention", "--format", "json"];
        all.extend_from_slice(args);
        let out = env.run(&all);
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        summary_step(&summary, "retention landing")
    };

    // Not in bronze yet: nothing goes.
    let step = retention(&[]);
    assert_eq!(step["counters"]["waiting_for_bronze"], 1, "{step}");
    assert_eq!(
        env.count("SELECT count(*) FROM landing.sensor_files").await,
        landed
    );

    env.run(&["build", "bronze"]);
    let bronze = env.digests().await["bronze.sensor_readings"].clone();
    let step = retention(&["--dry-run"]);
    assert_eq!(step["files"], first_day, "{step}");
    assert_eq!(step["counters"]["partitions"], 2, "{step}");
    assert_eq!(
        env.count("SELECT count(*) FROM landing.sensor_files").await,
        landed
    );

    let log = env.lake.join("landing/sensor_files/_delta_log");
    let commits_before = walk(&log).len();
    let step = retention(&[]);
    assert_eq!(step["files"], first_day, "{step}");
    assert_eq!(env.count(&day("2023-08-18")).await, 0);
    assert_eq!(
        env.count("SELECT count(*) FROM landing.sensor_files").await,
        landed - first_day
    );
    // Whole partitions: the commit removes data files and writes none.
    let newest = walk(&log)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .max()
        .unwrap();
    assert_eq!(walk(&log).len(), commits_before + 1);
    let commit = std::fs::read_to_string(newest).unwrap();
    assert!(commit.contains("\"remove\""), "{commit}");
    assert!(!commit.contains("\"add\""), "{commit}");
    // Bronze keeps every row, and the expired files are not landed again from the share.
    assert_eq!(env.digests().await["bronze.sensor_readings"], bronze);
    let out = env.run(&["ingest", "sensors", "--full", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary_step(&summary, "ingest sensors")["files"], 0);
}
