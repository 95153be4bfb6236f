//! Running the same step twice, or incrementally versus in full, gives the same lake.

use crate::common::{TestEnv, files_by_minute, generate, temp_dir};

#[tokio::test(flavor = "multi_thread")]
async fn rebuild_twice_and_full_rebuild_give_identical_tables() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 2, 2);
    let env = TestEnv::new().with_sources(&generated);

    env.run(&["rebuild"]);
    let first = env.digests().await;
    assert!(first["silver.sensor_events"].rows > 10_000, "{first:?}");
    assert!(first["bronze.sensor_files"].rows > 5_000);
    assert!(first["silver.weather_forecasts"].rows > 1_000, "{first:?}");
    assert!(first["silver.sensor_errors"].rows > 10, "{first:?}");

    env.run(&["rebuild"]);
    assert_eq!(
        env.digests().await,
        first,
        "a second rebuild changed the lake"
    );

    env.run(&["rebuild", "--full"]);
    assert_eq!(
        env.digests().await,
        first,
        "a full rebuild differs from the incremental one"
    );

    env.run(&["build", "silver", "--full"]);
    assert_eq!(env.digests().await, first);
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_ticks_equal_one_full_build() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 2);
    // Feed the share in three slices and build incrementally after each, as `watch` would.
    let staged = TestEnv::new();
    let files = files_by_minute(&generated.smb);
    for slice in files.chunks(files.len() / 3 + 1) {
        for file in slice {
            std::fs::copy(file, staged.share.join(file.file_name().unwrap())).unwrap();
        }
        staged.run(&["ingest", "sensors", "--full"]);
        staged.run(&["build"]);
    }
    let whole = TestEnv::new().with_share(&generated.smb);
    whole.run(&["rebuild"]);
    assert_eq!(staged.digests().await, whole.digests().await);
}
