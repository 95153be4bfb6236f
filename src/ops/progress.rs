//! Progress bars for long work. They draw on stderr only when it is a terminal, and disappear
//! when `--format json` or `NO_PROGRESS` asks for quiet output.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

static MULTI: OnceLock<MultiProgress> = OnceLock::new();
static ENABLED: AtomicBool = AtomicBool::new(true);

fn multi() -> &'static MultiProgress {
    MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// Turn progress bars off for the rest of the process.
pub fn disable() {
    ENABLED.store(false, Ordering::SeqCst);
    multi().set_draw_target(ProgressDrawTarget::hidden());
}

/// A bar counting `total` units of `unit` (files, rows, bytes).
pub fn bar(total: u64, label: &str, unit: &str) -> ProgressBar {
    let bar = if ENABLED.load(Ordering::SeqCst) {
        multi().add(ProgressBar::new(total))
    } else {
        ProgressBar::hidden()
    };
    let template = format!(
        "{{prefix:>14.bold}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} {{per_sec}} eta {{eta}} {{msg}}"
    );
    bar.set_style(
        ProgressStyle::with_template(&template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A spinner for work of unknown size.
pub fn spinner(label: &str) -> ProgressBar {
    let spinner = if ENABLED.load(Ordering::SeqCst) {
        multi().add(ProgressBar::new_spinner())
    } else {
        ProgressBar::hidden()
    };
    spinner.set_style(
        ProgressStyle::with_template("{prefix:>14.bold} {spinner} {msg} {elapsed}")
            .expect("valid template"),
    );
    spinner.set_prefix(label.to_string());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// Run `f` with the bars hidden (used by the log writer).
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    match MULTI.get() {
        Some(multi) => multi.suspend(f),
        None => f(),
    }
}
