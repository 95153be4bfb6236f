//! SQL behaviour of `queries/` in sqllogictest files (`tests/slt/*.slt`), run by
//! datafusion-sqllogictest against datacycle's own session: the lake schemas, the reference
//! tables, `sensor_time_utc`, `query_file` and the `datacycle.*` options.

use std::path::{Path, PathBuf};

use datafusion_sqllogictest::DataFusion;
use indicatif::ProgressBar;

use crate::common::temp_dir;

async fn run_file(path: &Path) {
    let dir = temp_dir();
    let settings = datacycle::config::Settings::for_lake(dir.path().join("lake").to_string_lossy());
    let lake = datacycle::lake::Lake::open(&settings.lake_url).unwrap();
    let session = datacycle::transform::open_session(&lake, &settings)
        .await
        .unwrap();
    let ctx = session.ctx().clone();
    let name = PathBuf::from(path.file_name().unwrap());
    let mut runner = sqllogictest::Runner::new(|| {
        let ctx = ctx.clone();
        let name = name.clone();
        async move { Ok(DataFusion::new(ctx, name, ProgressBar::hidden())) }
    });
    runner.with_column_validator(sqllogictest::strict_column_validator);
    runner.with_normalizer(datafusion_sqllogictest::value_normalizer);
    runner.with_validator(datafusion_sqllogictest::df_value_validator);
    if let Err(e) = runner.run_file_async(path).await {
        panic!("{}: {e}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_logic_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    for file in files {
        run_file(&file).await;
    }
}
