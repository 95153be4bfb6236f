//! Gold build throughput: silver -> gold in full, and the recompute of one day, on a generated
//! lake (2 apartments, 3 days; the 70-day figures come from `scripts/bench.sh`).

use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datacycle::config::Settings;
use datacycle::lake::{Lake, WriterLease};
use datacycle::transform::{gold, open_session};

const DAYS: u32 = 3;

/// A lake with silver built from generated sources (through the binary, as a user would).
fn silver_lake(dir: &std::path::Path) -> Settings {
    let mut options = datacycle::generate::GenerateOptions::new(dir.join("sources"));
    options.days = DAYS;
    options.weather_sites = 2;
    let generated = datacycle::generate::generate(&options).expect("generate");
    let lake = dir.join("lake");
    let status = Command::new(env!("CARGO_BIN_EXE_datacycle"))
        .args(["rebuild"])
        .env("ENV_FILE", "/dev/null")
        .env("NO_PROGRESS", "1")
        .env("LOG_LEVEL", "error")
        .env("LAKE_URL", &lake)
        .env("SMB_PATH", &generated.smb)
        .env("WEATHER_SOURCE", &generated.sftp)
        .env("REFERENCE_SOURCE", &generated.mysql)
        .env("HOUSE_MAP", generated.house_map.to_config_string())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run datacycle");
    assert!(status.success(), "rebuild failed");
    let mut settings = Settings::for_lake(lake.to_string_lossy());
    settings.house_map = generated.house_map;
    settings
}

fn bench_gold(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = silver_lake(dir.path());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let lake = Lake::open(&settings.lake_url).expect("lake");
    let lease = runtime
        .block_on(WriterLease::acquire(&lake, "bench", Duration::ZERO))
        .expect("lease");
    let rows = runtime.block_on(async {
        let session = open_session(&lake, &settings).await.expect("session");
        let sql = "SELECT count(*) FROM silver.sensor_events";
        let batches = session
            .ctx()
            .sql(sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        use datafusion::arrow::array::AsArray;
        batches[0]
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0) as u64
    });
    let mut group = c.benchmark_group("gold");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows));
    group.bench_function("full build (silver rows)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let session = open_session(&lake, &settings).await.expect("session");
                gold::build(&session, &settings, &lease, true)
                    .await
                    .expect("gold build")
            })
        })
    });
    group.finish();
    runtime.block_on(lease.release()).expect("release");
}

criterion_group!(benches, bench_gold);
criterion_main!(benches);
