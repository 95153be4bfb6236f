//! The command line's contract: exit codes and errors shown exactly once.

use crate::common::TestEnv;

#[test]
fn an_error_is_shown_once_with_the_exit_code_of_its_kind() {
    let env = TestEnv::new();
    // Configuration: 2.
    let out = env
        .command()
        .args(["build"])
        .env("HOUSE_MAP", "not a map")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("HOUSE_MAP entry").count(), 1, "{stderr}");
    // A failure: 1, once on stderr in text, once as a JSON event with LOG_FORMAT=json.
    std::fs::write(env.lake.with_extension("file"), "not a folder").unwrap();
    for (format, line_start) in [("text", "error: "), ("json", "{")] {
        let out = env
            .command()
            .args(["ingest", "sensors"])
            .env("SMB_PATH", env.lake.with_extension("file"))
            .env("LOG_FORMAT", format)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("not reachable"))
            .collect();
        assert_eq!(lines.len(), 1, "{format}: {stderr}");
        assert!(lines[0].starts_with(line_start), "{format}: {stderr}");
    }
}
