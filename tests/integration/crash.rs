//! Crash safety: SIGKILL the binary at several points during bronze, silver and gold, run it again,
//! and get exactly the tables of an uninterrupted run.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{TestEnv, generate, temp_dir};

/// Where to kill: after the `nth` log line containing `marker` (commit events are logged at
/// debug level right after each commit), or after a delay.
enum KillPoint {
    AfterLine { marker: &'static str, nth: usize },
    After(Duration),
}

/// Start `rebuild`, kill it at `point`; returns whether it was killed before finishing.
fn run_and_kill(env: &TestEnv, point: &KillPoint) -> bool {
    let mut child = env
        .command()
        .env("LOG_LEVEL", "datacycle=debug")
        .args(["rebuild"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    match point {
        KillPoint::AfterLine { marker, nth } => {
            let mut seen = 0;
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap();
                if line.contains(marker) {
                    seen += 1;
                    if seen == *nth {
                        child.kill().unwrap();
                        break;
                    }
                }
            }
        }
        KillPoint::After(delay) => {
            let started = Instant::now();
            // Keep draining stderr so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
            while started.elapsed() < *delay {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
        }
    }
    let status = child.wait().unwrap();
    !status.success()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_anywhere_then_rerun_gives_the_uninterrupted_lake() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 2, 2);
    // Small batches and chunks so that every kill point lands between commits.
    let reference = TestEnv::new()
        .with_share(&generated.smb)
        .with_weather(&generated.sftp)
        .with_reference(&generated.mysql.to_string_lossy())
        .var("BRONZE_BATCH_FILES", "700")
        .var("SILVER_PARTITIONS_PER_COMMIT", "1");
    reference.run(&["rebuild"]);
    let expected = reference.digests().await;

    let points = [
        KillPoint::AfterLine {
            marker: "table=bronze.sensor_readings ",
            nth: 1,
        },
        KillPoint::AfterLine {
            marker: "table=bronze.sensor_readings ",
            nth: 3,
        },
        KillPoint::AfterLine {
            marker: "table=bronze.sensor_files ",
            nth: 2,
        },
        KillPoint::AfterLine {
            marker: "table=silver.sensor_events ",
            nth: 1,
        },
        KillPoint::AfterLine {
            marker: "table=silver.sensor_events ",
            nth: 3,
        },
        KillPoint::AfterLine {
            marker: "table=bronze.weather_rows ",
            nth: 1,
        },
        KillPoint::AfterLine {
            marker: "table=silver.weather_forecasts ",
            nth: 1,
        },
        KillPoint::AfterLine {
            marker: "table=bronze.ref_rooms ",
            nth: 1,
        },
        KillPoint::AfterLine {
            marker: "table=silver.dim_rooms ",
            nth: 1,
        },
        KillPoint::AfterLine {
            marker: "table=gold.dim_room ",
            nth: 1,
        },
        KillPoint::AfterLine {
            marker: "table=gold.fact_energy_minute ",
            nth: 1,
        },
        KillPoint::AfterLine {
            marker: "table=gold.fact_device_health_day ",
            nth: 1,
        },
        KillPoint::After(Duration::from_millis(700)),
        KillPoint::After(Duration::from_millis(2500)),
    ];
    let mut killed = 0;
    for point in &points {
        let env = reference.sibling();
        killed += run_and_kill(&env, point) as usize;
        // A second kill in the recovery run, then a clean run.
        run_and_kill(&env, &KillPoint::After(Duration::from_millis(400)));
        env.run(&["rebuild"]);
        assert_eq!(
            env.digests().await,
            expected,
            "lake differs after a kill at this point"
        );
    }
    assert!(
        killed >= 11,
        "most kill points must hit a running process ({killed} did)"
    );
}
