//! `watch` in simulated time on generated sources: the lake it builds equals a `rebuild`, a
//! pause is caught up once per window, a restart within a window repeats nothing, a failing
//! source fails only its own window, and SIGTERM in the middle of a window exits 0 with the
//! lease released and a lake equal to an uninterrupted run.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{TestEnv, generate, temp_dir};

/// Run `watch` in simulated time from `from` to `until` (`extra` flags after), and return its
/// JSON summary.
fn watch(env: &TestEnv, from: &str, until: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "watch",
        "--simulate-from",
        from,
        "--until",
        until,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = env.run(&args);
    serde_json::from_slice(&output.stdout).expect("watch --format json prints its summary")
}

fn runs(summary: &serde_json::Value, window: &str) -> u64 {
    summary["windows"][window]["runs"].as_u64().unwrap_or(0)
}

/// The digests of the data tables (not the ML results, which `rebuild` does not make).
async fn data_digests(env: &TestEnv) -> Vec<(String, datacycle::lake::TableDigest)> {
    let ml: Vec<String> = datacycle::catalog::tables::ML_RESULTS
        .iter()
        .map(|t| format!("gold.{}", t.name))
        .collect();
    env.digests()
        .await
        .into_iter()
        .filter(|(table, _)| !ml.contains(table))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_builds_the_lake_of_a_rebuild_and_catches_up_each_window_once() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 2, 2);
    let env = TestEnv::new().with_sources(&generated);
    // 22:00–04:00 Zurich: hourly ticks, the daily windows once at start, the nightly one at
    // start and at 02:00.
    let first = watch(
        &env,
        "2023-08-19T20:00:00Z",
        "2023-08-20T02:00:00Z",
        &["--tick-seconds", "3600"],
    );
    assert_eq!(runs(&first, "tick"), 7, "{first}");
    assert_eq!(runs(&first, "weather"), 1, "{first}");
    assert_eq!(runs(&first, "reference"), 1, "{first}");
    assert_eq!(runs(&first, "maintenance"), 2, "{first}");
    assert_eq!(runs(&first, "predict"), 1, "{first}");
    assert!(
        first["windows"].get("publish").is_none(),
        "no DB_URL: no publish"
    );
    for (window, tally) in first["windows"].as_object().unwrap() {
        assert_eq!(tally["failed"], 0, "{window} failed: {first}");
    }
    let whole = env.sibling();
    whole.run(&["rebuild"]);
    assert_eq!(data_digests(&env).await, data_digests(&whole).await);

    // Two days and an hour later: every window once, for its newest slot.
    let later = watch(
        &env,
        "2023-08-22T03:00:00Z",
        "2023-08-22T03:00:00Z",
        &["--tick-seconds", "3600"],
    );
    for window in ["tick", "weather", "reference", "predict", "maintenance"] {
        assert_eq!(runs(&later, window), 1, "{window}: {later}");
    }
    assert_eq!(runs(&later, "benchmark"), 0, "{later}");
    assert_eq!(later["windows"]["maintenance"]["missed"], 1, "{later}");
    assert_eq!(later["windows"]["weather"]["missed"], 1, "{later}");
    assert_eq!(later["windows"]["tick"]["missed"], 48, "{later}");

    // Restarted within those windows: nothing runs again.
    let restarted = watch(
        &env,
        "2023-08-22T03:20:00Z",
        "2023-08-22T03:30:00Z",
        &["--tick-seconds", "3600"],
    );
    for (window, tally) in restarted["windows"].as_object().unwrap() {
        assert_eq!(tally["runs"], 0, "{window} ran again: {restarted}");
    }
    // Every window recorded its steps.
    let recorded = env
        .count("SELECT count(DISTINCT run_id) FROM _ops.runs WHERE command = 'watch tick'")
        .await;
    assert_eq!(recorded, 8);
    assert_eq!(data_digests(&env).await, data_digests(&whole).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_source_fails_only_its_window_and_is_retried() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 2);
    let env = TestEnv::new()
        .with_share(&generated.smb)
        .with_weather(&sources.path().join("no-such-folder"));
    let summary = watch(
        &env,
        "2023-08-18T10:00:00Z",
        "2023-08-18T11:00:00Z",
        &["--tick-seconds", "900"],
    );
    assert_eq!(runs(&summary, "tick"), 5, "{summary}");
    assert_eq!(summary["windows"]["tick"]["failed"], 0, "{summary}");
    // Failed at start, retried after 1, 2, 4, 8, 16 minutes; then the hour is up.
    let weather = &summary["windows"]["weather"];
    assert_eq!(weather["runs"], 6, "{summary}");
    assert_eq!(weather["failed"], 6, "{summary}");
    assert!(env.count("SELECT count(*) FROM silver.sensor_events").await > 0);
    let failed = env
        .count(
            "SELECT count(*) FROM _ops.runs WHERE command = 'watch weather' \
             AND outcome = 'failed' AND error LIKE '%no-such-folder%'",
        )
        .await;
    assert_eq!(failed, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_in_a_window_finishes_it_releases_the_lease_and_exits_0() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 2, 2);
    let env = TestEnv::new().with_sources(&generated);
    let args = [
        "watch",
        "--simulate-from",
        "2023-08-19T20:00:00Z",
        "--until",
        "2023-08-20T01:00:00Z",
        "--tick-seconds",
        "3600",
        "--format",
        "json",
    ];
    let mut child = env
        .command()
        .args(args)
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first tick lands and builds two days of files: signal it while it runs.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let started = Instant::now();
    loop {
        let line = lines.next().expect("watch logs").unwrap();
        if line.contains("tick: started") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no tick started"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling a child process this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let log: Vec<String> = lines.map_while(|l| l.ok()).collect();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", log.join("\n"));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["stopped"], true);
    assert_eq!(
        runs(&summary, "tick"),
        1,
        "the running tick finished: {summary}"
    );
    assert_eq!(
        runs(&summary, "weather"),
        0,
        "no window after the signal: {summary}"
    );
    // The lease is released: the next writer need not wait for it to expire.
    let status = env
        .command()
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(
        status["lease"].is_null() || status["lease"]["released"] == true,
        "{}",
        status["lease"]
    );

    // Resumed, it ends where an uninterrupted watch ends.
    env.run(&args);
    let uninterrupted = env.sibling();
    uninterrupted.run(&args);
    assert_eq!(data_digests(&env).await, data_digests(&uninterrupted).await);
}
