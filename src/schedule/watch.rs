//! The scheduler of `datacycle watch`: one loop that runs each window of the plan when it falls
//! due, forever (or until a time, or a stop request).
//!
//! - **State in the lake** (`_ops/state/schedule.json`): per window the slot last run, how it
//!   ended, consecutive failures and when to retry. Saved after every window, so a restart
//!   neither repeats a finished window nor forgets a failed one.
//! - **Catch-up**: a window whose slots passed while the process was down, the machine slept or
//!   a step ran long runs once, for its newest slot; the missed slots are logged, never silently
//!   dropped, never run one by one.
//! - **Isolation and backoff**: a failing window is logged and retried
//!   after 1, 2, 4 … minutes (at most an hour; its next regular slot comes in any case), while
//!   every other window keeps its own schedule.
//! - **Stop**: a stop request (SIGTERM/SIGINT) lets the running window finish, saves its state
//!   and ends the loop; a wait ends at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::lake::{Lake, runs, state};
use crate::ops::report::StepReport;
use crate::schedule::clock::{Clock, Stop};
use crate::schedule::windows::{Cadence, Plan, Window};

const STATE: &str = "schedule";
/// The first retry of a failed window; doubled per further failure.
const FIRST_RETRY: Duration = Duration::minutes(1);
const LONGEST_RETRY: Duration = Duration::hours(1);

/// The work behind each window.
#[allow(async_fn_in_trait)] // used generically inside the crate only: no `Send` bound needed
pub trait Jobs {
    /// Run `window` for `slot`: the reports of its steps (a step that failed on its own carries
    /// its error; an `Err` fails the whole window). The jobs record their runs.
    async fn run(&mut self, window: Window, slot: DateTime<Utc>) -> Result<Vec<StepReport>>;
}

/// What the scheduler remembers of a window between runs and restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowState {
    /// The slot last run (successfully or not).
    pub slot: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub ok: bool,
    /// Failures in a row (0 after a success).
    pub failures: u32,
    /// When a failed window is tried again (unless its next slot comes first).
    pub retry_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    pub windows: BTreeMap<Window, WindowState>,
}

/// Load the scheduler's state of `lake` (empty when `watch` never ran).
pub async fn load_state(lake: &Lake) -> Result<ScheduleState> {
    Ok(state::load(lake, STATE).await?)
}

/// How often each window ran while this `watch` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowTally {
    pub runs: u64,
    pub failed: u64,
    /// Slots that passed without a run of their own (caught up by a later run).
    pub missed: u64,
    pub last_slot: Option<DateTime<Utc>>,
    pub last_outcome: Option<&'static str>,
    pub seconds: f64,
}

/// What one `watch` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WatchSummary {
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Ended by SIGTERM/SIGINT (not by `--until`).
    pub stopped: bool,
    pub windows: BTreeMap<&'static str, WindowTally>,
}

/// A window due now: for which slot, and how many slots it missed before that one.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Due {
    window: Window,
    cadence: Cadence,
    slot: DateTime<Utc>,
    missed: u64,
    retry: bool,
}

pub struct Scheduler<'a, J, C> {
    lake: &'a Lake,
    plan: Plan,
    jobs: J,
    clock: C,
    stop: Arc<Stop>,
    until: Option<DateTime<Utc>>,
    state: ScheduleState,
}

impl<'a, J: Jobs, C: Clock> Scheduler<'a, J, C> {
    /// A scheduler of `plan` on `lake` with the state `watch` left there.
    pub async fn new(
        lake: &'a Lake,
        plan: Plan,
        jobs: J,
        clock: C,
        stop: Arc<Stop>,
    ) -> Result<Self> {
        let state = load_state(lake).await?;
        Ok(Self {
            lake,
            plan,
            jobs,
            clock,
            stop,
            until: None,
            state,
        })
    }

    /// End the loop once no window is due before `until`.
    pub fn until(mut self, until: Option<DateTime<Utc>>) -> Self {
        self.until = until;
        self
    }

    /// Run windows as they fall due until `until` or a stop request.
    pub async fn run(&mut self) -> WatchSummary {
        let mut summary = WatchSummary {
            started_at: Some(self.clock.now()),
            ..Default::default()
        };
        for (window, _) in &self.plan.windows {
            summary
                .windows
                .insert(window.name(), WindowTally::default());
        }
        while !self.stop.is_requested() {
            let now = self.clock.now();
            let due = self.due(now);
            if due.is_empty() {
                let wake = self.next_wake(now);
                if self.until.is_some_and(|until| wake > until) {
                    break;
                }
                self.clock.sleep_until(wake, &self.stop).await;
                continue;
            }
            for due in due {
                if self.stop.is_requested() {
                    break;
                }
                self.run_window(due, &mut summary).await;
            }
        }
        summary.stopped = self.stop.is_requested();
        summary.ended_at = Some(self.clock.now());
        summary
    }

    /// The windows due at `now`, in plan order.
    fn due(&self, now: DateTime<Utc>) -> Vec<Due> {
        let zone = self.plan.zone;
        let mut due: Vec<Due> = self
            .plan
            .windows
            .iter()
            .filter_map(|&(window, cadence)| {
                let latest = cadence.latest_slot(zone, now);
                let Some(last) = self.state.windows.get(&window) else {
                    return Some(Due {
                        window,
                        cadence,
                        slot: latest,
                        missed: 0,
                        retry: false,
                    });
                };
                if latest > last.slot {
                    return Some(Due {
                        window,
                        cadence,
                        slot: latest,
                        missed: cadence.slots_between(zone, last.slot, latest),
                        retry: false,
                    });
                }
                let retry = !last.ok && last.retry_at.is_some_and(|at| at <= now);
                retry.then_some(Due {
                    window,
                    cadence,
                    slot: last.slot,
                    missed: 0,
                    retry: true,
                })
            })
            .collect();
        due.sort_by_key(|d| d.window);
        due
    }

    /// When the next window falls due (a slot or a retry).
    fn next_wake(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let zone = self.plan.zone;
        self.plan
            .windows
            .iter()
            .map(|&(window, cadence)| {
                let next = cadence.next_slot(zone, now);
                match self.state.windows.get(&window) {
                    Some(last) if !last.ok => last.retry_at.map_or(next, |at| at.min(next)),
                    _ => next,
                }
            })
            .min()
            .unwrap_or(now + Duration::minutes(1))
    }

    async fn run_window(&mut self, due: Due, summary: &mut WatchSummary) {
        let window = due.window;
        log_catch_up(&due);
        tracing::info!(window = window.name(), slot = %due.slot, "{window}: started (slot {})", due.slot);
        let started = std::time::Instant::now();
        let steps = match self.jobs.run(window, due.slot).await {
            Ok(steps) => steps,
            Err(error) => vec![StepReport::failure(
                window.name(),
                &error.to_string(),
                started,
            )],
        };
        let ok = steps.iter().all(|s| s.error.is_none());
        for step in &steps {
            log_step(window, step);
        }
        log_window(window, &steps, started.elapsed().as_secs_f64());
        let finished_at = self.clock.now();
        let failures = match self.state.windows.get(&window) {
            _ if ok => 0,
            Some(last) => last.failures + 1,
            None => 1,
        };
        let retry_at = (!ok).then(|| finished_at + backoff(failures));
        self.state.windows.insert(
            window,
            WindowState {
                slot: due.slot,
                finished_at,
                ok,
                failures,
                retry_at,
            },
        );
        if let Err(e) = state::save(self.lake, STATE, &self.state).await {
            tracing::error!(
                "could not save the schedule state (kept in memory, saved next time): {e}"
            );
        }
        let tally = summary.windows.entry(window.name()).or_default();
        tally.runs += 1;
        tally.failed += u64::from(!ok);
        tally.missed += due.missed;
        tally.last_slot = Some(due.slot);
        tally.last_outcome = Some(if ok { "ok" } else { "failed" });
        tally.seconds += started.elapsed().as_secs_f64();
        if let Some(at) = retry_at {
            tracing::warn!(
                window = window.name(),
                failures,
                retry_at = %at,
                "{window} failed ({failures} in a row); retrying at {at} or at its next slot"
            );
        }
    }
}

/// The wait before retrying a window that failed `failures` times in a row.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(10);
    (FIRST_RETRY * 2i32.pow(doublings)).min(LONGEST_RETRY)
}

fn log_catch_up(due: &Due) {
    let window = due.window;
    if due.retry {
        tracing::info!(window = window.name(), slot = %due.slot, "{window}: retrying the slot of {}", due.slot);
    } else if due.missed > 0 && due.cadence.is_interval() {
        tracing::info!(
            window = window.name(),
            missed = due.missed,
            "{window}: {} slot(s) passed while a step ran or the process was down; running once for {}",
            due.missed,
            due.slot
        );
    } else if due.missed > 0 {
        tracing::warn!(
            window = window.name(),
            missed = due.missed,
            "{window}: {} window(s) missed (the process was down or the machine slept); catching up once for {}",
            due.missed,
            due.slot
        );
    }
}

/// One log line per step (JSON with LOG_FORMAT=json): at info for a step that did something,
/// warned or failed, at debug for one that found nothing to do (most steps of most ticks).
fn log_step(window: Window, step: &StepReport) {
    let outcome = runs::outcome(step);
    let idle = step.files == 0 && step.rows == 0 && step.bytes == 0 && step.warnings == 0;
    match &step.error {
        Some(error) => tracing::error!(
            window = window.name(),
            step = %step.step,
            outcome,
            seconds = step.seconds,
            "{}: failed: {error}",
            step.step
        ),
        None if idle => tracing::debug!(
            window = window.name(),
            step = %step.step,
            outcome,
            seconds = step.seconds,
            "{}: nothing to do",
            step.step
        ),
        None => tracing::info!(
            window = window.name(),
            step = %step.step,
            outcome,
            seconds = step.seconds,
            files = step.files,
            rows = step.rows,
            bytes = step.bytes,
            warnings = step.warnings,
            "{}: {outcome} in {:.2} s ({} files, {} rows)",
            step.step,
            step.seconds,
            step.files,
            step.rows
        ),
    }
}

/// One line per window: how it ended and how long it took.
fn log_window(window: Window, steps: &[StepReport], seconds: f64) {
    let failed = steps.iter().filter(|s| s.error.is_some()).count();
    let rows: u64 = steps.iter().map(|s| s.rows).sum();
    let outcome = if failed > 0 { "failed" } else { "ok" };
    tracing::info!(
        window = window.name(),
        outcome,
        seconds,
        steps = steps.len(),
        failed,
        rows,
        "{window}: {outcome} in {seconds:.2} s ({} steps, {failed} failed, {rows} rows)",
        steps.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::clock::SimulatedClock;
    use chrono::NaiveTime;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn plan() -> Plan {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        Plan {
            zone: chrono_tz::Europe::Zurich,
            windows: vec![
                (Window::Tick, Cadence::Every(Duration::minutes(1))),
                (Window::Weather, Cadence::DailyAt(at(7, 30))),
                (Window::Benchmark, Cadence::MonthlyAt(at(7, 30))),
                (Window::Maintenance, Cadence::DailyAt(at(2, 0))),
                (Window::Publish, Cadence::Every(Duration::minutes(15))),
            ],
        }
    }

    /// Jobs that record what ran when, fail the windows they are told to, and can take
    /// simulated time or ask to stop while they run.
    struct FakeJobs {
        clock: Arc<SimulatedClock>,
        stop: Arc<Stop>,
        ran: Vec<(Window, DateTime<Utc>, DateTime<Utc>)>,
        failing: Vec<Window>,
        takes: Option<(Window, DateTime<Utc>, Duration)>,
        stop_during: Option<Window>,
    }

    impl Jobs for &mut FakeJobs {
        async fn run(&mut self, window: Window, slot: DateTime<Utc>) -> Result<Vec<StepReport>> {
            self.ran.push((window, slot, self.clock.now()));
            if let Some((slow, at, by)) = self.takes
                && slow == window
                && at == slot
            {
                self.clock.advance(by);
            }
            if self.stop_during == Some(window) {
                self.stop.request();
            }
            let mut report = StepReport::new(window.name());
            if self.failing.contains(&window) {
                report.error = Some("source down".into());
            }
            Ok(vec![report])
        }
    }

    struct Rig {
        _dir: tempfile::TempDir,
        lake: Lake,
    }

    fn rig() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().to_string_lossy()).unwrap();
        Rig { _dir: dir, lake }
    }

    fn fake(start: &str) -> FakeJobs {
        FakeJobs {
            clock: SimulatedClock::starting_at(utc(start)),
            stop: Stop::new(),
            ran: Vec::new(),
            failing: Vec::new(),
            takes: None,
            stop_during: None,
        }
    }

    /// Run `jobs` on `lake` from its clock's time until `until`.
    async fn watch(lake: &Lake, jobs: &mut FakeJobs, until: &str) -> WatchSummary {
        let (clock, stop) = (jobs.clock.clone(), jobs.stop.clone());
        let mut scheduler = Scheduler::new(lake, plan(), jobs, clock, stop)
            .await
            .unwrap()
            .until(Some(utc(until)));
        scheduler.run().await
    }

    fn count(jobs: &FakeJobs, window: Window) -> usize {
        jobs.ran.iter().filter(|(w, _, _)| *w == window).count()
    }

    fn slots(jobs: &FakeJobs, window: Window) -> Vec<DateTime<Utc>> {
        jobs.ran
            .iter()
            .filter(|(w, _, _)| *w == window)
            .map(|(_, slot, _)| *slot)
            .collect()
    }

    #[tokio::test]
    async fn ticks_publishes_and_the_daily_and_nightly_windows() {
        let rig = rig();
        // 23:00 Zurich on 17 August to 08:00 on the 18th.
        let mut jobs = fake("2023-08-17T21:00:00Z");
        let summary = watch(&rig.lake, &mut jobs, "2023-08-18T06:00:00Z").await;
        assert_eq!(count(&jobs, Window::Tick), 9 * 60 + 1);
        assert_eq!(count(&jobs, Window::Publish), 9 * 4 + 1);
        // A window that never ran is due at once; then at its time.
        assert_eq!(
            slots(&jobs, Window::Maintenance),
            [utc("2023-08-17T00:00:00Z"), utc("2023-08-18T00:00:00Z")]
        );
        assert_eq!(
            slots(&jobs, Window::Weather),
            [utc("2023-08-17T05:30:00Z"), utc("2023-08-18T05:30:00Z")]
        );
        assert_eq!(
            slots(&jobs, Window::Benchmark),
            [utc("2023-08-01T05:30:00Z")]
        );
        // Windows due together run in plan order: the tick of 07:30 before the weather.
        let at_weather: Vec<Window> = jobs
            .ran
            .iter()
            .filter(|(_, _, at)| *at == utc("2023-08-18T05:30:00Z"))
            .map(|(w, _, _)| *w)
            .collect();
        assert_eq!(at_weather, [Window::Tick, Window::Weather, Window::Publish]);
        assert_eq!(summary.windows["tick"].runs, 541);
        assert!(!summary.stopped);
    }

    #[tokio::test]
    async fn a_pause_is_caught_up_once_per_window() {
        let rig = rig();
        let mut jobs = fake("2023-08-18T06:00:00Z");
        watch(&rig.lake, &mut jobs, "2023-08-18T07:00:00Z").await;
        // Three hours down, then up again: each window once, for its newest slot.
        let mut later = fake("2023-08-18T10:00:30Z");
        let summary = watch(&rig.lake, &mut later, "2023-08-18T10:00:30Z").await;
        assert_eq!(slots(&later, Window::Tick), [utc("2023-08-18T10:00:00Z")]);
        assert_eq!(
            slots(&later, Window::Publish),
            [utc("2023-08-18T10:00:00Z")]
        );
        assert_eq!(count(&later, Window::Weather), 0);
        assert_eq!(summary.windows["tick"].missed, 179);
        assert_eq!(summary.windows["publish"].missed, 11);
        // Two days down: the daily and nightly windows once each, for the newest slot.
        let mut after_days = fake("2023-08-20T12:00:00Z");
        let summary = watch(&rig.lake, &mut after_days, "2023-08-20T12:00:00Z").await;
        assert_eq!(
            slots(&after_days, Window::Weather),
            [utc("2023-08-20T05:30:00Z")]
        );
        assert_eq!(
            slots(&after_days, Window::Maintenance),
            [utc("2023-08-20T00:00:00Z")]
        );
        assert_eq!(count(&after_days, Window::Tick), 1);
        assert_eq!(summary.windows["weather"].missed, 1);
        assert_eq!(summary.windows["maintenance"].missed, 1);
        assert_eq!(count(&after_days, Window::Benchmark), 0);
    }

    #[tokio::test]
    async fn a_long_step_delays_the_ticks_without_repeating_them() {
        let rig = rig();
        let mut jobs = fake("2023-08-17T23:50:00Z");
        let midnight = utc("2023-08-18T00:00:00Z");
        jobs.takes = Some((Window::Maintenance, midnight, Duration::minutes(20)));
        watch(&rig.lake, &mut jobs, "2023-08-18T00:30:00Z").await;
        let ticks: Vec<_> = slots(&jobs, Window::Tick)
            .into_iter()
            .filter(|t| *t >= midnight)
            .take(3)
            .collect();
        // Maintenance ran 00:00–00:20 UTC (02:00 in Zurich): the next tick is 00:20, once.
        assert_eq!(
            ticks,
            [
                midnight,
                utc("2023-08-18T00:20:00Z"),
                utc("2023-08-18T00:21:00Z")
            ]
        );
        // The publish of 00:00 ran after it, that of 00:15 once at 00:20.
        let publishes: Vec<_> = jobs
            .ran
            .iter()
            .filter(|(w, slot, _)| *w == Window::Publish && *slot >= midnight)
            .map(|(_, slot, at)| (*slot, *at))
            .take(2)
            .collect();
        let late = utc("2023-08-18T00:20:00Z");
        assert_eq!(
            publishes,
            [(midnight, late), (utc("2023-08-18T00:15:00Z"), late)]
        );
    }

    #[tokio::test]
    async fn a_failing_window_is_retried_with_backoff_while_ticks_go_on() {
        let rig = rig();
        let mut jobs = fake("2023-08-18T05:29:00Z");
        jobs.failing = vec![Window::Weather];
        watch(&rig.lake, &mut jobs, "2023-08-18T06:00:00Z").await;
        let attempts: Vec<_> = jobs
            .ran
            .iter()
            .filter(|(w, _, _)| *w == Window::Weather)
            .map(|(_, _, at)| *at)
            .collect();
        // At start (yesterday's slot, failed); today's slot at 07:30 local (05:30 UTC), then
        // retried 2, 4, 8, 16 minutes after each failure.
        let expected: Vec<_> = ["05:29", "05:30", "05:32", "05:36", "05:44", "06:00"]
            .iter()
            .map(|t| utc(&format!("2023-08-18T{t}:00Z")))
            .collect();
        assert_eq!(attempts, expected);
        assert_eq!(count(&jobs, Window::Tick), 32);
        let state = load_state(&rig.lake).await.unwrap();
        let weather = &state.windows[&Window::Weather];
        assert!(!weather.ok);
        assert_eq!(weather.failures, 6);
        assert_eq!(weather.retry_at, Some(utc("2023-08-18T06:32:00Z")));
        // Fixed: the retry succeeds and the failure count resets.
        let mut fixed = fake("2023-08-18T06:40:00Z");
        watch(&rig.lake, &mut fixed, "2023-08-18T06:40:00Z").await;
        assert_eq!(count(&fixed, Window::Weather), 1);
        let state = load_state(&rig.lake).await.unwrap();
        assert!(state.windows[&Window::Weather].ok);
        assert_eq!(state.windows[&Window::Weather].failures, 0);
    }

    #[tokio::test]
    async fn a_restart_within_a_window_does_not_run_it_again() {
        let rig = rig();
        let mut jobs = fake("2023-08-18T05:30:00Z");
        watch(&rig.lake, &mut jobs, "2023-08-18T05:35:00Z").await;
        assert_eq!(count(&jobs, Window::Weather), 1);
        let mut restarted = fake("2023-08-18T05:40:10Z");
        watch(&rig.lake, &mut restarted, "2023-08-18T05:42:00Z").await;
        assert_eq!(count(&restarted, Window::Weather), 0);
        assert_eq!(count(&restarted, Window::Maintenance), 0);
        assert_eq!(count(&restarted, Window::Tick), 3);
    }

    #[tokio::test]
    async fn a_stop_request_finishes_the_running_window_and_starts_no_other() {
        let rig = rig();
        let mut jobs = fake("2023-08-18T05:30:00Z");
        jobs.stop_during = Some(Window::Weather);
        let summary = watch(&rig.lake, &mut jobs, "2023-08-19T00:00:00Z").await;
        assert!(summary.stopped);
        // Tick, then the weather that got the signal; not the benchmark or publish after it.
        let ran: Vec<Window> = jobs.ran.iter().map(|(w, _, _)| *w).collect();
        assert_eq!(ran, [Window::Tick, Window::Weather]);
        let state = load_state(&rig.lake).await.unwrap();
        assert!(
            state.windows[&Window::Weather].ok,
            "the finished window is saved"
        );
        assert!(!state.windows.contains_key(&Window::Publish));
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(3), Duration::minutes(4));
        assert_eq!(backoff(12), Duration::hours(1));
    }
}
