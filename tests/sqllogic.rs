//! SQL behaviour of `queries/` in sqllogictest files (`tests/slt/*.slt`), one test per file, run
//! by datafusion-sqllogictest against datacycle's own session: the lake schemas, the reference
//! tables, `sensor_time_utc`, `query_file` and the `datacycle.*` options. One more test insists
//! that every SQL file of `queries/` is exercised by an `.slt` file (through `query_file`) or
//! listed, with the reason, in `tests/slt/untested.txt`.
//!
//!   cargo test --release --test sqllogic                  # all
//!   cargo test --release --test sqllogic gold_dim_date     # one file

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use datafusion_sqllogictest::DataFusion;
use indicatif::ProgressBar;
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = slt_files()
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || run_file(&path))
        })
        .collect();
    trials.push(Trial::test(
        "every_query_file_has_an_slt_or_an_exemption",
        every_query_is_tested,
    ));
    libtest_mimic::run(&args, trials).exit();
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn slt_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/slt"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

fn run_file(path: &Path) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::Builder::new()
            .prefix("datacycle-slt-")
            .tempdir_in(
                std::env::var_os("DATACYCLE_TEST_TMP")
                    .map(PathBuf::from)
                    .unwrap_or_else(std::env::temp_dir),
            )?;
        let settings =
            datacycle::config::Settings::for_lake(dir.path().join("lake").to_string_lossy());
        let lake = datacycle::lake::Lake::open(&settings.lake_url)?;
        let session = datacycle::transform::open_session(&lake, &settings).await?;
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
        runner
            .run_file_async(path)
            .await
            .map_err(|e| Failed::from(format!("{}: {e}", path.display())))
    })
}

/// Every `queries/**/*.sql` below `dir`, as paths relative to `queries/`.
fn query_files(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            query_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "sql") {
            let relative = path.strip_prefix(root().join("queries")).unwrap();
            out.insert(relative.to_string_lossy().into_owned());
        }
    }
}

/// The query files `text` reads with `query_file('…')`.
fn named_queries(text: &str) -> BTreeSet<String> {
    text.match_indices("query_file('")
        .filter_map(|(at, _)| {
            let rest = &text[at + "query_file('".len()..];
            rest.find('\'').map(|end| rest[..end].to_string())
        })
        .collect()
}

fn every_query_is_tested() -> Result<(), Failed> {
    let mut queries = BTreeSet::new();
    query_files(&root().join("queries"), &mut queries);
    // Tested: named by an .slt file, or read (through query_file) by a tested query.
    let mut tested = BTreeSet::new();
    for file in slt_files() {
        tested.extend(named_queries(&std::fs::read_to_string(&file)?));
    }
    loop {
        let mut reached = tested.clone();
        for query in &tested {
            if let Ok(text) = std::fs::read_to_string(root().join("queries").join(query)) {
                reached.extend(named_queries(&text));
            }
        }
        if reached.len() == tested.len() {
            break;
        }
        tested = reached;
    }
    let list = std::fs::read_to_string(root().join("tests/slt/untested.txt"))?;
    let mut exempt = BTreeSet::new();
    let mut problems = Vec::new();
    for line in list.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('#') {
            Some((path, reason)) if !reason.trim().is_empty() => {
                let path = path.trim().to_string();
                if !queries.contains(&path) {
                    problems.push(format!("untested.txt names {path}, which does not exist"));
                } else if tested.contains(&path) {
                    problems.push(format!("untested.txt exempts {path}, which an .slt tests"));
                }
                exempt.insert(path);
            }
            _ => problems.push(format!(
                "untested.txt: `{line}` gives no reason (`path  # why`)"
            )),
        }
    }
    for query in &queries {
        if !tested.contains(query) && !exempt.contains(query) {
            problems.push(format!(
                "queries/{query} has no .slt test (query_file('{query}')) and no exemption in tests/slt/untested.txt"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}
