//! `datacycle sql`: the interactive shell driven through a real pseudo-terminal (line editing,
//! commands, multi-line statements, Ctrl-C, history), scripts, time travel and the read-only rule.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datacycle::lake::TableRef;

use crate::common::{TestEnv, files_by_minute, generate, temp_dir};

const PROMPT: &str = "datacycle> ";

/// The shell on the slave side of a pseudo-terminal; what it writes is collected from the master.
struct Terminal {
    child: Child,
    master: std::fs::File,
    output: Arc<Mutex<Vec<u8>>>,
    /// Where the next expectation starts looking.
    seen: usize,
}

impl Terminal {
    fn spawn(mut command: std::process::Command) -> Self {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 50,
            ws_col: 220,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two descriptors we then own.
        let opened = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both were just opened and are owned by nothing else.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let stdio = || Stdio::from(slave.try_clone().unwrap());
        command
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio())
            .env("TERM", "xterm");
        // SAFETY: only async-signal-safe calls between fork and exec. The shell gets its own
        // session with the terminal as controlling terminal, so Ctrl-C there is its SIGINT.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("spawn the shell");
        drop(slave);
        let master = std::fs::File::from(master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let mut answer = master.try_clone().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Reading fails (EIO) once the shell has exited and closed the terminal.
            while let Ok(n @ 1..) = reader.read(&mut buffer) {
                // Answer the line editor's cursor-position request as a terminal does (else it
                // waits for an answer and would take typed keys for one).
                if buffer[..n].windows(4).any(|w| w == b"\x1b[6n") {
                    let _ = answer.write_all(b"\x1b[1;1R");
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        Self {
            child,
            master,
            output,
            seen: 0,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Wait until `wanted` appears after what earlier expectations consumed; consume up to it.
    fn expect(&mut self, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = self.text();
            if let Some(at) = text.get(self.seen..).and_then(|rest| rest.find(wanted)) {
                self.seen += at + wanted.len();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no `{wanted}` in the shell's output:\n{}",
                &text[self.seen.min(text.len())..]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Type `keys` (as a user would: `\r` is Enter).
    fn type_keys(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// Type a line at the prompt and wait for `wanted` in the answer, then for the next prompt.
    fn line(&mut self, line: &str, wanted: &str) {
        self.type_keys(&format!("{line}\r"));
        self.expect(wanted);
        self.expect(PROMPT);
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the shell did not exit:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A lake whose `silver.sensor_events` was built twice (two versions with different rows);
/// the version and row count after the first build.
async fn lake_built_twice() -> (TestEnv, tempfile::TempDir, u64, i64) {
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 1);
    let files = files_by_minute(&generated.smb);
    let env = TestEnv::new();
    let (first, rest) = files.split_at(files.len() / 2);
    for file in first {
        std::fs::copy(file, env.share.join(file.file_name().unwrap())).unwrap();
    }
    env.run(&["rebuild"]);
    let events = TableRef::silver("sensor_events");
    let version = env.session().await.registered(&events).unwrap().version;
    let rows = env.count("SELECT count(*) FROM silver.sensor_events").await;
    for file in rest {
        std::fs::copy(file, env.share.join(file.file_name().unwrap())).unwrap();
    }
    env.run(&["rebuild"]);
    assert!(env.count("SELECT count(*) FROM silver.sensor_events").await > rows);
    (env, sources, version, rows)
}

fn sql(env: &TestEnv, args: &[&str]) -> std::process::Output {
    env.command().arg("sql").args(args).output().unwrap()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_interactive_shell_runs_commands_statements_and_survives_ctrl_c() {
    let (env, _sources, _, _) = lake_built_twice().await;
    let history = env.dir.path().join("history/sql_history");
    let mut command = env.command();
    command
        .arg("sql")
        .env("SQL_HISTORY_FILE", &history)
        // The spinner of a long query is part of a terminal session.
        .env_remove("NO_PROGRESS");
    let mut shell = Terminal::spawn(command);
    shell.expect(PROMPT);

    shell.line("\\d", "silver.sensor_events");
    shell.line("\\d silver.sensor_events", "partitioned by");
    // A statement over two lines: the second prompt is the continuation prompt.
    shell.type_keys("SELECT count(DISTINCT apartment) AS apartments\r");
    shell.expect("-> ");
    shell.line("FROM silver.sensor_events;", "| 1          |");
    shell.line("\\timing", "Timing is on.");
    shell.line("SELECT 1 AS one;", "Time: ");
    shell.line("\\format csv", "Output format is csv.");
    shell.line("SELECT 6 * 7 AS answer;", "answer\r\n42\r\n");

    // Ctrl-C at the prompt clears the line and keeps the shell.
    shell.type_keys("SELECT 'never run'");
    shell.type_keys("\x03");
    shell.expect(PROMPT);
    // Ctrl-C during a query that would run for hours cancels it, and the shell goes on.
    shell.type_keys(
        "SELECT sum(a.value % 7 + b.value) FROM generate_series(1, 1000) b \
         CROSS JOIN generate_series(1, 1000000000000) a;\r",
    );
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    shell.type_keys("\x03");
    shell.expect("cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancelling took {:?}",
        started.elapsed()
    );
    shell.expect(PROMPT);
    shell.line("SELECT 40 + 2 AS again;", "again\r\n42\r\n");

    // Writes are refused and the shell goes on.
    shell.line("DROP TABLE gold.dim_date;", "read-only");
    shell.line(
        "INSERT INTO gold.dim_date SELECT * FROM gold.dim_date;",
        "read-only",
    );

    shell.type_keys("\\q\r");
    assert!(shell.wait().success(), "{}", shell.text());
    assert!(
        !shell.text().contains("never run\r\n"),
        "a cleared line ran"
    );
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("FROM silver.sensor_events;"), "{saved}");
    assert!(saved.contains("\\timing"), "{saved}");
    drop(shell);
    let rows = env.count("SELECT count(*) FROM gold.dim_date").await;
    assert!(rows > 0, "the refused statements changed gold.dim_date");
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_time_travel_and_history_read_old_versions_and_never_write() {
    let (env, _sources, first_version, first_rows) = lake_built_twice().await;
    let count = "SELECT count(*) AS n FROM silver.sensor_events";

    // The whole lake as of the first build, and one table of it next to the others.
    let version = first_version.to_string();
    let old = sql(&env, &["--as-of", &version, "-c", count, "--format", "csv"]);
    assert!(
        old.status.success(),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    assert_eq!(stdout(&old), format!("n\n{first_rows}\n"));
    let table_at = format!(
        "SELECT (SELECT count(*) FROM table_at('silver.sensor_events', {first_version})) AS old, \
                (SELECT count(*) FROM silver.sensor_events) AS new"
    );
    let both = sql(&env, &["-c", &table_at, "--format", "json"]);
    assert!(
        both.status.success(),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
    let both: serde_json::Value = serde_json::from_str(&stdout(&both)).unwrap();
    let now = env.count("SELECT count(*) FROM silver.sensor_events").await;
    assert_eq!(both[0]["old"], first_rows);
    assert_eq!(both[0]["new"], now);
    // By time: the first version's commit time reads the first build.
    let history = sql(
        &env,
        &["-c", "\\history silver.sensor_events", "--format", "json"],
    );
    assert!(
        history.status.success(),
        "{}",
        String::from_utf8_lossy(&history.stderr)
    );
    let history: serde_json::Value = serde_json::from_str(&stdout(&history)).unwrap();
    let versions: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_u64().unwrap())
        .collect();
    let latest = env
        .session()
        .await
        .registered(&TableRef::silver("sensor_events"))
        .unwrap()
        .version;
    assert_eq!(versions, (0..=latest).rev().take(20).collect::<Vec<_>>());
    let first = history
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["version"] == first_version)
        .unwrap();
    assert!(!first["operation"].as_str().unwrap().is_empty(), "{first}");
    let at_time = format!(
        "SELECT count(*) AS n FROM table_at('silver.sensor_events', '{}')",
        first["time"].as_str().unwrap()
    );
    let by_time = sql(&env, &["-c", &at_time, "--format", "csv"]);
    assert_eq!(stdout(&by_time), format!("n\n{first_rows}\n"));
    // A version the table never had is an error that says so.
    let future = format!(
        "SELECT * FROM table_at('silver.sensor_events', {})",
        latest + 5
    );
    let refused = sql(&env, &["-c", &future]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no such version"));

    // A script mixes commands and statements; piped stdin works like -f.
    let script = "\\format csv\n\\d gold.dim_date\nSELECT 1 AS a,\n  2 AS b;\n";
    let mut piped = env
        .command()
        .arg("sql")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    piped
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let piped = piped.wait_with_output().unwrap();
    assert!(piped.status.success());
    let text = stdout(&piped);
    assert!(text.contains("column,type,nullable,partition\n"), "{text}");
    assert!(text.contains("property,value\nversion,"), "{text}");
    assert!(text.ends_with("a,b\n1,2\n"), "{text}");

    // EXPLAIN ANALYZE runs the query and shows its metrics.
    let explain = sql(&env, &["-c", &format!("EXPLAIN ANALYZE {count}")]);
    assert!(explain.status.success());
    assert!(
        stdout(&explain).contains("output_rows"),
        "{}",
        stdout(&explain)
    );

    // Every kind of write is refused before it runs, and the lake is unchanged.
    let before = env.digests().await;
    for write in [
        "DELETE FROM silver.sensor_events",
        "DROP TABLE gold.dim_date",
        "CREATE TABLE silver.copy AS SELECT 1",
        "UPDATE gold.dim_date SET date_key = 0",
        "COPY (SELECT 1) TO '/tmp/datacycle-shell-copy.csv'",
    ] {
        let refused = sql(&env, &["-c", write]);
        assert_eq!(refused.status.code(), Some(2), "{write}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("read-only"),
            "{write}: {}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
    assert_eq!(env.digests().await, before);
}
