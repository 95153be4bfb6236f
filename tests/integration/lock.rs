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

    let mut waiting = env
        .command()
        .env("LOCK_WAIT_SECS", "60")
        .env("LOG_LEVEL", "info")
        .args(["build"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Released once the second writer says it waits.
    let stderr = waiting.stderr.take().unwrap();
    let said = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let said = lines.any(|l| l.unwrap().contains("waiting for the writer lease"));
        std::thread::spawn(move || lines.for_each(drop));
        said
    })
    .await
    .unwrap();
    assert!(said, "the second writer never said it waits");
    lease.release().await.unwrap();
    let status = tokio::task::spawn_blocking(move || waiting.wait().unwrap())
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

/// A live-looking lease of another writer, as JSON: renewed (by its own clock) in 2000, on a
/// machine with our host name but another boot, with a pid that does not exist here.
fn foreign_lease() -> Vec<u8> {
    let holder = datacycle::lake::LeaseHolder {
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        boot_id: Some("another-machine-with-the-same-hostname".into()),
        pid_namespace: Some("pid:[1]".into()),
        pid: 4_000_000,
        pid_start: Some(1),
        command: "rebuild on the other container".into(),
        started_at: "2000-01-01T00:00:00Z".parse().unwrap(),
        renewed_at: "2000-01-01T00:00:00Z".parse().unwrap(),
        released: false,
    };
    serde_json::to_vec(&holder).unwrap()
}

const FIRST_LEASE: &str = "_ops/lock/lease-00000000000000000001.json";

fn assert_refused(env: &TestEnv) {
    let out = env.command().args(["build"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains("rebuild on the other container"),
        "{stderr}"
    );
}

#[test]
fn a_lease_with_a_wrong_clock_or_a_shared_host_name_is_not_taken_over_locally() {
    let env = TestEnv::new();
    let path = env.lake.join(FIRST_LEASE);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, foreign_lease()).unwrap();
    assert_refused(&env);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lease_with_a_wrong_clock_is_not_taken_over_on_s3() {
    use object_store::ObjectStoreExt;
    let env = crate::s3::s3_env(TestEnv::new());
    let var = |key: &str| env.vars.iter().find(|(k, _)| k == key).unwrap().1.clone();
    let lake_url = url::Url::parse(&var("LAKE_URL")).unwrap();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(var("AWS_ENDPOINT_URL"))
        .with_bucket_name(lake_url.host_str().unwrap())
        .with_access_key_id(var("AWS_ACCESS_KEY_ID"))
        .with_secret_access_key(var("AWS_SECRET_ACCESS_KEY"))
        .with_region("us-east-1")
        .with_allow_http(true)
        .build()
        .unwrap();
    let key = format!("{}/{FIRST_LEASE}", lake_url.path().trim_matches('/'));
    store
        .put(&object_store::path::Path::from(key), foreign_lease().into())
        .await
        .unwrap();
    assert_refused(&env);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_over_lease_is_noticed_before_the_next_commit() {
    let env = TestEnv::new();
    let lake = Lake::open(&env.lake.to_string_lossy()).unwrap();
    let lease = WriterLease::acquire(&lake, "fenced writer", Duration::ZERO)
        .await
        .unwrap();
    lease.check().await.unwrap();
    let next = env.lake.join("_ops/lock/lease-00000000000000000002.json");
    std::fs::write(&next, foreign_lease()).unwrap();
    let error = lease.check().await.unwrap_err().to_string();
    assert!(error.contains("rebuild on the other container"), "{error}");
}
