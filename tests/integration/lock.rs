//! One writer at a time: a second writer refuses with the holder's identity, or waits for it;
//! two concurrent rebuilds write nothing twice.

use std::process::Stdio;
use std::time::Duration;

use datacycle::lake::{Lake, WriterLease};

use crate::common::{TestEnv, generate, temp_dir};

#[tokio::test(flavor = "multi_thread")]
async fn a_second_writer_refuses_naming_the_holder_or_waits() {
    let env = TestEnv::new();
    let lake = Lake::open(&env.lake.to_string_lossy()).unwrap();
    let lease = WriterLease::acquire(&lake, "lock test holder", Duration::ZERO)
        .await
        .unwrap();

    let output = env.command().args(["build"]).output().unwrap();
    assert_eq!(output.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lock test holder"), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", std::process::id())),
        "{stderr}"
    );

    let waiting = env
        .command()
        .env("LOCK_WAIT_SECS", "60")
        .args(["build"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    lease.release().await.unwrap();
    let status = tokio::task::spawn_blocking(move || waiting.wait_with_output().unwrap().status)
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_rebuilds_write_nothing_twice() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 2);
    let single = TestEnv::new().with_share(&generated.smb);
    single.run(&["rebuild"]);

    let env = single.sibling().var("LOCK_WAIT_SECS", "120");
    let spawn = || {
        env.command()
            .arg("rebuild")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    for child in [first, second] {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    assert_eq!(env.digests().await, single.digests().await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lease_of_a_dead_process_is_taken_over_at_once() {
    // A process that holds the lease and is killed without releasing it.
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 1);
    let env = TestEnv::new().with_share(&generated.smb);
    let mut child = env
        .command()
        .env("LOG_LEVEL", "datacycle=debug")
        .arg("rebuild")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
        if line.unwrap().contains("writer lease acquired") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // LOCK_WAIT_SECS is 0: this only succeeds if the dead holder's lease is taken over.
    env.run(&["rebuild"]);
    let lake = Lake::open(&env.lake.to_string_lossy()).unwrap();
    let holder = datacycle::lake::current_holder(&lake)
        .await
        .unwrap()
        .unwrap();
    assert!(holder.released);
}
