//! Weather download from a real OpenSSH sshd on loopback (scripts/test.sh prepares the host key,
//! the client key and the sFTP-only user; every test runs its own server so it can stop, start
//! and kill it).

use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TestEnv, env_var, temp_dir};

/// An sshd of its own serving sFTP on a free loopback port.
struct SshServer {
    config: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl SshServer {
    fn new(dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let keys = PathBuf::from(env_var("DATACYCLE_TEST_SSH_DIR"));
        let config = dir.join(format!("sshd_config_{port}"));
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {keys}/host_key\nPidFile {dir}/sshd_{port}.pid\n\
                 AuthorizedKeysFile {keys}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication yes\nPubkeyAuthentication yes\nAllowUsers {user}\n\
                 Subsystem sftp internal-sftp\nForceCommand internal-sftp\nLogLevel ERROR\n",
                keys = keys.display(),
                dir = dir.display(),
                user = env_var("DATACYCLE_TEST_SSH_USER"),
            ),
        )
        .unwrap();
        Self {
            config,
            port,
            child: None,
        }
    }

    fn start(&mut self) {
        let child = Command::new(env_var("DATACYCLE_TEST_SSHD"))
            .args(["-D", "-e", "-f"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL sshd and every session process it forked: connections drop mid-transfer.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            for pid in descendants(child.id()) {
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Bytes the session processes have read (from disk and sockets, /proc/<pid>/io).
    fn bytes_read(&self) -> u64 {
        let Some(child) = self.child.as_ref() else {
            return 0;
        };
        descendants(child.id())
            .into_iter()
            .skip(1)
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/io")).ok())
            .filter_map(|io| {
                io.lines()
                    .find_map(|l| l.strip_prefix("rchar: "))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .sum()
    }

    /// Whether a client session is open.
    fn has_session(&self) -> bool {
        self.child
            .as_ref()
            .is_some_and(|c| !descendants(c.id()).is_empty())
    }

    /// The known_hosts line of this server.
    fn known_hosts_line(&self) -> String {
        let key = std::fs::read_to_string(
            Path::new(&env_var("DATACYCLE_TEST_SSH_DIR")).join("host_key.pub"),
        )
        .unwrap();
        let mut parts = key.split_whitespace();
        format!(
            "[127.0.0.1]:{} {} {}\n",
            self.port,
            parts.next().unwrap(),
            parts.next().unwrap()
        )
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every process descending from `pid` (read from /proc).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        if let Some(parent) = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
        {
            parents.push((child, parent));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let current = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == current)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// A folder the sFTP user can read, with generated forecast files.
struct Served {
    _dir: tempfile::TempDir,
    root: PathBuf,
    folder: PathBuf,
}

fn served(days: u32) -> Served {
    let dir = temp_dir();
    let root = dir.path().to_path_buf();
    let mut options = datacycle::generate::GenerateOptions::new(root.join("set"));
    options.days = days;
    options.apartments = 1;
    options.weather_sites = 3;
    let generated = datacycle::generate::generate(&options).unwrap();
    for path in [
        root.as_path(),
        root.join("set").as_path(),
        generated.sftp.as_path(),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Served {
        folder: generated.sftp,
        root,
        _dir: dir,
    }
}

/// The binary pointed at `server` serving `served`, with a known_hosts file that knows it.
fn client(server: &SshServer, served: &Served) -> TestEnv {
    let env = TestEnv::new();
    let known_hosts = env.dir.path().join("known_hosts");
    std::fs::write(&known_hosts, server.known_hosts_line()).unwrap();
    let user = env_var("DATACYCLE_TEST_SSH_USER");
    let source = format!(
        "sftp://{user}@127.0.0.1:{}{}",
        server.port,
        served.folder.display()
    );
    env.var("WEATHER_SOURCE", &source)
        .var("SFTP_PASSWORD", &env_var("DATACYCLE_TEST_SSH_PASSWORD"))
        .var("SFTP_KNOWN_HOSTS", &known_hosts.to_string_lossy())
        .var("SFTP_RETRY_DELAY", "1")
}

fn landed_files(env: &TestEnv) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), out);
            } else {
                out.push(entry.path());
            }
        }
    }
    let mut files = Vec::new();
    walk(&env.lake.join("landing/weather"), &mut files);
    files.sort();
    files
}

#[test]
fn downloads_every_file_byte_identical_and_then_nothing() {
    let served = served(3);
    let mut server = SshServer::new(&served.root);
    server.start();
    let env = client(&server, &served);
    let output = env.run(&["ingest", "weather", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["steps"][0]["files"], 3);
    let landed = landed_files(&env);
    assert_eq!(landed.len(), 3);
    for file in &landed {
        let name = file.file_name().unwrap();
        assert_eq!(
            std::fs::read(file).unwrap(),
            std::fs::read(served.folder.join(name)).unwrap()
        );
    }
    let again = env.run(&["ingest", "weather", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["steps"][0]["files"], 0);

    // Public-key authentication works as well.
    let key_env = client(&server, &served).var("SFTP_PASSWORD", "").var(
        "SFTP_KEY_FILE",
        &format!("{}/client_key", env_var("DATACYCLE_TEST_SSH_DIR")),
    );
    key_env.run(&["ingest", "weather"]);
    assert_eq!(landed_files(&key_env).len(), 3);
}

#[test]
fn a_server_that_comes_up_during_the_retry_window_is_used() {
    let served = served(1);
    let mut server = SshServer::new(&served.root);
    let env = client(&server, &served).var("SFTP_MAX_RETRIES", "6");
    let mut download = env
        .command()
        .args(["ingest", "weather"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The server comes up once the client has failed and said it retries.
    let mut lines =
        std::io::BufRead::lines(std::io::BufReader::new(download.stderr.take().unwrap()));
    assert!(
        lines.any(|l| l.unwrap().contains("retry 1/6")),
        "no retry announced"
    );
    server.start();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = download.wait().unwrap();
    assert!(status.success(), "{}", rest.join("\n"));
    assert_eq!(landed_files(&env).len(), 1);
}

#[test]
fn a_connection_cut_mid_file_leaves_nothing_partial_and_the_next_run_completes() {
    let served = served(1);
    // One large file, so that the cut lands in the middle of it.
    let big = served.folder.join("Pred_2023-08-19.csv");
    let mut file = std::fs::File::create(&big).unwrap();
    writeln!(file, "Time,Value,Prediction,Site,Measurement,Unit").unwrap();
    let line =
        "2023-08-19 09:00:00+00:00,18.1,00,Aadorf / Tänikon,PRED_T_2M_ctrl,°C\n".repeat(1000);
    for _ in 0..3000 {
        file.write_all(line.as_bytes()).unwrap();
    }
    drop(file);
    let mut server = SshServer::new(&served.root);
    server.start();
    // A file of 200+ MiB: above the default MAX_SOURCE_FILE_MB, so raise it for this one.
    let env = client(&server, &served)
        .var("SFTP_MAX_RETRIES", "0")
        .var("MAX_SOURCE_FILE_MB", "1024");
    let mut download = env
        .command()
        .args(["ingest", "weather"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.has_session() {
        assert!(Instant::now() < deadline, "no sFTP session opened");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The small file comes first; cut once the server has read well into the big one.
    let small: u64 = std::fs::read_dir(&served.folder)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "Pred_2023-08-19.csv")
        .map(|e| e.metadata().unwrap().len())
        .sum();
    let big_size = std::fs::metadata(&big).unwrap().len();
    while server.bytes_read() < small + big_size / 10 {
        assert!(
            Instant::now() < deadline,
            "the download of the big file did not start"
        );
        assert!(
            download.try_wait().unwrap().is_none(),
            "the download ended before the cut"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    server.kill();
    let status = download.wait().unwrap();
    assert!(
        !status.success(),
        "the download should fail when the server dies"
    );
    let partial: Vec<_> = landed_files(&env)
        .into_iter()
        .filter(|p| p.ends_with("19/Pred_2023-08-19.csv") || p.to_string_lossy().contains('#'))
        .collect();
    assert!(partial.is_empty(), "partial files in landing: {partial:?}");

    server.start();
    env.run(&["ingest", "weather"]);
    let landed = landed_files(&env);
    let big_landed = landed
        .iter()
        .find(|p| p.ends_with("Pred_2023-08-19.csv"))
        .expect("big file landed");
    assert_eq!(
        std::fs::metadata(big_landed).unwrap().len(),
        std::fs::metadata(&big).unwrap().len()
    );
}

#[test]
fn a_wrong_password_fails_once_with_a_clear_message_and_no_secret() {
    let served = served(1);
    let mut server = SshServer::new(&served.root);
    server.start();
    let env = client(&server, &served)
        .var("SFTP_PASSWORD", "wrong-password-123")
        .var("SFTP_RETRY_DELAY", "600");
    let started = Instant::now();
    let output = env.command().args(["ingest", "weather"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("login to") && stderr.contains("refused"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-password-123"),
        "the password leaked: {stderr}"
    );
    assert!(
        !stderr.contains("retry"),
        "a refused login must not be retried: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(300),
        "no waiting for a retry"
    );
    assert!(landed_files(&env).is_empty());
}

#[test]
fn an_unknown_host_key_is_refused_unless_accepted_and_then_recorded() {
    let served = served(1);
    let mut server = SshServer::new(&served.root);
    server.start();
    let env = client(&server, &served);
    let known_hosts = env.dir.path().join("known_hosts");
    std::fs::write(&known_hosts, "").unwrap();
    let output = env.command().args(["ingest", "weather"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("is not in") && stderr.contains("SFTP_ACCEPT_NEW_HOST"),
        "{stderr}"
    );

    let accepting = client(&server, &served)
        .var("SFTP_KNOWN_HOSTS", &known_hosts.to_string_lossy())
        .var("SFTP_ACCEPT_NEW_HOST", "true");
    accepting.run(&["ingest", "weather"]);
    assert!(
        std::fs::read_to_string(&known_hosts)
            .unwrap()
            .contains(&format!("[127.0.0.1]:{}", server.port))
    );
    // Recorded: now known without accepting.
    let env = env.var("SFTP_ACCEPT_NEW_HOST", "false");
    env.run(&["ingest", "weather"]);
}
