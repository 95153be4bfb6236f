//! The `datacycle` binary: parse flags, set up logging, run the command, map errors to exit codes.

use clap::Parser;
use datacycle::cli::Cli;
use datacycle::config::load_env_file;
use datacycle::ops::{exit, logging, progress, secrets};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (the same index in its v2 and v3 headers).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    tune_allocator();
    std::process::exit(run());
}

/// Batches allocate and free hundreds of MiB in quick succession; the page faults of getting
/// that memory back from the kernel measured as a fifth of the bronze and silver CPU time.
/// - Returning freed pages to the OS after mimalloc's default 10 ms means faulting (and
///   zeroing) them in again for the next batch; one second of delay keeps them across batches.
/// - With transparent huge pages, every fault zeroes a whole 2 MiB page, also for the partly
///   used pages mimalloc purges; 4 KiB pages cut the system time of a silver build by ~40 %.
///
/// MIMALLOC_PURGE_DELAY / MIMALLOC_ALLOW_THP=1 in the environment still win.
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an option is thread-safe and valid at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // What mimalloc itself does for MIMALLOC_ALLOW_THP=0, which it reads only at start-up.
        // SAFETY: a process-wide flag consulted at page-fault time; failure leaves THP on.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}

fn run() -> i32 {
    // The env file must be read before clap, so that its values act as defaults for flags.
    let (env_file, explicit) = env_file_from_args();
    if let Err(e) = load_env_file(&env_file, explicit) {
        eprintln!("error: {}", secrets::redact(&e.to_string()));
        return exit::CONFIG;
    }
    register_secrets_from_env();
    disable_instance_metadata_unless_asked();
    let cli = Cli::parse();
    if cli.logging.no_progress || cli.wants_json() {
        progress::disable();
    }
    let _guard = match logging::init(
        cli.logging.log_format,
        &cli.logging.log_level,
        cli.logging.log_dir.as_deref(),
    ) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: cannot set up logging: {e}");
            return exit::CONFIG;
        }
    };
    let cli_log_format = cli.logging.log_format;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(datacycle::cli::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            let message = secrets::redact(&error.to_string()).into_owned();
            tracing::debug!("full error: {message}");
            let shown = shorten(&message);
            // Shown once: JSON logs carry it as their last event; text logs leave that event
            // to the log files and the line below says it.
            tracing::error!(target: logging::EXIT_ERROR_TARGET, "{shown}");
            if cli_log_format != logging::LogFormat::Json {
                eprintln!("error: {shown}");
            }
            error.exit_code()
        }
    }
}

/// `--env-file <path>` / `--env-file=<path>` / `ENV_FILE`, and whether it was asked for.
fn env_file_from_args() -> (std::path::PathBuf, bool) {
    let args: Vec<String> = std::env::args().collect();
    for (i, arg) in args.iter().enumerate() {
        if let Some(value) = arg.strip_prefix("--env-file=") {
            return (value.into(), true);
        }
        if arg == "--env-file"
            && let Some(value) = args.get(i + 1)
        {
            return (value.into(), true);
        }
    }
    match std::env::var_os("ENV_FILE") {
        Some(value) => (value.into(), true),
        None => (".env".into(), false),
    }
}

/// Every password in a URL-valued variable and every secret-named variable is masked in output.
fn register_secrets_from_env() {
    for (key, value) in std::env::vars() {
        let upper = key.to_ascii_uppercase();
        if upper.ends_with("_URL") || value.contains("://") {
            secrets::register_url(&value);
        } else if ["PASSWORD", "SECRET", "TOKEN", "PASS"]
            .iter()
            .any(|s| upper.contains(s))
        {
            secrets::register(&value);
        }
    }
}

/// aws-config (deltalake's S3 credentials and region) asks the EC2 instance metadata endpoint
/// when nothing else answers; datacycle never does unless AWS_EC2_METADATA_DISABLED=false says
/// so (see `lake::store`).
fn disable_instance_metadata_unless_asked() {
    if std::env::var_os("AWS_EC2_METADATA_DISABLED").is_none() {
        // SAFETY: called before any other thread exists (the runtime starts later).
        unsafe { std::env::set_var("AWS_EC2_METADATA_DISABLED", "true") };
    }
}

/// Engine errors can embed whole query plans; show the start and say where the rest is.
fn shorten(message: &str) -> String {
    const LIMIT: usize = 1500;
    if message.len() <= LIMIT {
        return message.to_string();
    }
    let cut = (0..=LIMIT)
        .rev()
        .find(|i| message.is_char_boundary(*i))
        .unwrap_or(0);
    format!(
        "{} … ({} more characters; LOG_LEVEL=debug logs the full error)",
        &message[..cut],
        message.len() - cut
    )
}
