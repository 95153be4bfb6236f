//! The clock `watch` schedules by, injected so tests and replays can drive days in seconds, and
//! the stop request of SIGTERM/SIGINT that ends a wait at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Notify;

/// A request to stop, set by a signal: the running step finishes, no new one starts.
#[derive(Debug, Default)]
pub struct Stop {
    requested: AtomicBool,
    notify: Notify,
}

impl Stop {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Wait until a stop is requested.
    pub async fn requested(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_requested() {
                return;
            }
            notified.await;
        }
    }
}

/// What `watch` reads the time from and waits on.
#[allow(async_fn_in_trait)] // used generically inside the crate only: no `Send` bound needed
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
    /// Wait until `time` or until `stop` is requested, whichever comes first.
    async fn sleep_until(&self, time: DateTime<Utc>, stop: &Stop);
}

/// The real clock. Waits are cut into short sleeps checked against the wall clock, because the
/// monotonic timer stands still while the machine is suspended: a window due during a suspend
/// runs right after the resume, not a suspend's length later.
#[derive(Debug, Default)]
pub struct SystemClock;

/// The longest sleep before the wall clock is looked at again.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(15);

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, time: DateTime<Utc>, stop: &Stop) {
        loop {
            let Ok(remaining) = (time - Utc::now()).to_std() else {
                return;
            };
            if remaining.is_zero() || stop.is_requested() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(remaining.min(RECHECK)) => {}
                () = stop.requested() => return,
            }
        }
    }
}

/// Simulated time: a wait jumps to its end at once and steps take no time.
#[derive(Debug)]
pub struct SimulatedClock {
    now: Mutex<DateTime<Utc>>,
    /// Whether the process-wide clock (`ops::clock`) follows, so that steps see the simulated
    /// time too (idle detection, retention cut-offs, the times in `_ops.runs`).
    drives_process_clock: bool,
}

impl SimulatedClock {
    /// A clock of its own (tests of the scheduler alone).
    pub fn starting_at(start: DateTime<Utc>) -> Arc<Self> {
        Self::new(start, false)
    }

    /// The clock of the whole process (`watch --simulate-from`).
    pub fn driving_the_process_from(start: DateTime<Utc>) -> Arc<Self> {
        Self::new(start, true)
    }

    fn new(start: DateTime<Utc>, drives_process_clock: bool) -> Arc<Self> {
        if drives_process_clock {
            crate::ops::clock::set_simulated(start);
        }
        Arc::new(Self {
            now: Mutex::new(start),
            drives_process_clock,
        })
    }

    /// Move the clock on by `by` (a step that took that long).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().expect("clock lock");
        *now += by;
        if self.drives_process_clock {
            crate::ops::clock::set_simulated(*now);
        }
    }
}

impl Clock for Arc<SimulatedClock> {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }

    async fn sleep_until(&self, time: DateTime<Utc>, _stop: &Stop) {
        let now = self.now();
        if time > now {
            self.advance(time - now);
        }
    }
}
