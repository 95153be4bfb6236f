//! Crash safety: SIGKILL the binary at several points during landing, bronze, silver and gold,
//! run it again, and get exactly the tables of an uninterrupted run. Kills happen at observable
//! points (a log line), never after a fixed delay.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::{TestEnv, generate, temp_dir};

/// Where to kill: right after the `nth` log line containing `marker` (commit events are logged
/// at debug level right after each commit).
pub struct KillPoint {
    pub marker: &'static str,
    pub nth: usize,
}

/// Start the binary with `args`, kill it at `point`; returns whether it was killed before
/// finishing.
pub fn run_and_kill(env: &TestEnv, args: &[&str], point: &KillPoint) -> bool {
    let mut child = env
        .command()
        .env("LOG_LEVEL", "datacycle=debug")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = 0;
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains(point.marker) {
            seen += 1;
            if seen == point.nth {
                child.kill().unwrap();
                break;
            }
        }
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let status = child.wait().unwrap();
    !status.success()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_anywhere_then_rerun_gives_the_uninterrupted_lake() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 2, 2);
    // Small batches and chunks so that every kill point lands between commits.
    let reference = TestEnv::new()
        .with_sources(&generated)
        .var("BRONZE_BATCH_FILES", "700")
        .var("SILVER_PARTITIONS_PER_COMMIT", "1");
    reference.run(&["rebuild"]);
    let expected = reference.digests().await;

    let points = [
        // Inside landing's commit sequence: after its first and after a later batch.
        KillPoint {
            marker: "table=landing.sensor_files ",
            nth: 1,
        },
        KillPoint {
            marker: "table=landing.sensor_files ",
            nth: 4,
        },
        KillPoint {
            marker: "table=bronze.sensor_readings ",
            nth: 1,
        },
        KillPoint {
            marker: "table=bronze.sensor_readings ",
            nth: 3,
        },
        KillPoint {
            marker: "table=bronze.sensor_files ",
            nth: 2,
        },
        KillPoint {
            marker: "table=silver.sensor_events ",
            nth: 1,
        },
        KillPoint {
            marker: "table=silver.sensor_events ",
            nth: 3,
        },
        KillPoint {
            marker: "table=bronze.weather_rows ",
            nth: 1,
        },
        KillPoint {
            marker: "table=silver.weather_forecasts ",
            nth: 1,
        },
        KillPoint {
            marker: "table=bronze.ref_rooms ",
            nth: 1,
        },
        KillPoint {
            marker: "table=silver.dim_rooms ",
            nth: 1,
        },
        KillPoint {
            marker: "table=gold.dim_room ",
            nth: 1,
        },
        KillPoint {
            marker: "table=gold.fact_energy_minute ",
            nth: 1,
        },
        KillPoint {
            marker: "table=gold.fact_presence_minute ",
            nth: 1,
        },
        // Landing: right after the lease is taken, before anything is landed.
        KillPoint {
            marker: "writer lease acquired",
            nth: 1,
        },
    ];
    for point in &points {
        let env = reference.sibling();
        assert!(
            run_and_kill(&env, &["rebuild"], point),
            "the kill after `{}` #{} came after the run ended",
            point.marker,
            point.nth
        );
        // A second kill in the recovery run, at its first commit, then a clean run.
        run_and_kill(
            &env,
            &["rebuild"],
            &KillPoint {
                marker: "committed",
                nth: 1,
            },
        );
        env.run(&["rebuild"]);
        assert_eq!(
            env.digests().await,
            expected,
            "lake differs after a kill after `{}` #{}",
            point.marker,
            point.nth
        );
    }
}
