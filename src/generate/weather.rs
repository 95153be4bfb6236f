//! Synthetic weather forecast files `Pred_YYYY-MM-DD.csv`: per issue date, every site, four
//! measurements (plus one code silver drops), 46 prediction groups (00–33 three-hourly over three
//! days, 34–45 daily over four), covering the issue date −1 to +2 so consecutive files overlap.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};
use rand::Rng;
use rayon::prelude::*;

use super::names::WEATHER_SITES;
use super::{GenerateOptions, Result, io_error, rng};
use crate::ops::report::StepReport;

/// (code, unit) of the measurements; the last one is not kept by silver.
const MEASUREMENTS: [(&str, &str); 5] = [
    ("PRED_T_2M_ctrl", "°C"),
    ("PRED_RELHUM_2M_ctrl", "%"),
    ("PRED_TOT_PREC_ctrl", "Kg/m2"),
    ("PRED_GLOB_ctrl", "Watt/m2"),
    ("PRED_PS_ctrl", "Pa"),
];
pub const SENTINEL: &str = "-99999.0";

/// The day index left out of the set (a missing file, as in the real manifest).
fn is_missing_day(day: u32, days: u32) -> bool {
    days > 4 && day == 3
}

pub fn generate(dir: &Path, options: &GenerateOptions) -> Result<StepReport> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let results: Vec<Result<(u64, u64)>> = (0..options.days)
        .into_par_iter()
        .filter(|day| !is_missing_day(*day, options.days))
        .map(|day| {
            let issue = options.start + Duration::days(day as i64);
            let text = forecast_file(issue, options.weather_sites as usize, options.seed, day);
            let path = dir.join(format!("Pred_{}.csv", issue.format("%Y-%m-%d")));
            std::fs::write(&path, text.as_bytes()).map_err(io_error(&path))?;
            // Uploaded at 06:00 UTC of the issue day, as the real files are: a file that just
            // changed may still be uploading, and ingest leaves it for later.
            let uploaded = issue.and_hms_opt(6, 0, 0).expect("valid time").and_utc();
            let uploaded = std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(uploaded.timestamp().max(0) as u64);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(uploaded))
                .map_err(io_error(&path))?;
            Ok((text.lines().count() as u64 - 1, text.len() as u64))
        })
        .collect();
    let mut report = StepReport::new("generate weather");
    for result in results {
        let (rows, bytes) = result?;
        report.files += 1;
        report.rows += rows;
        report.bytes += bytes;
    }
    Ok(report)
}

/// Forecast steps of prediction group `group` for a file issued on `issue`.
fn steps(issue: NaiveDate, group: u32) -> Vec<NaiveDateTime> {
    let first = (issue - Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    if group <= 33 {
        (0..24)
            .map(|k| first + Duration::hours(3 * k + (group % 3) as i64))
            .collect()
    } else {
        (0..4)
            .map(|k| first + Duration::days(k) + Duration::hours(12))
            .collect()
    }
}

fn forecast_file(issue: NaiveDate, sites: usize, seed: u64, day: u32) -> String {
    let mut rng = rng(seed, "weather", day as u64);
    let mut out = String::with_capacity(12 << 20);
    out.push_str("Time,Value,Prediction,Site,Measurement,Unit\n");
    for (s, site) in WEATHER_SITES.iter().take(sites).enumerate() {
        let altitude_offset = (s % 7) as f64 * -1.5;
        let site_field = site_field(site, &mut rng);
        for (m, (code, unit)) in MEASUREMENTS.iter().enumerate() {
            // The extra code only appears for the first site, as a stray measurement would.
            if m == 4 && s != 0 {
                continue;
            }
            for group in 0..46 {
                let bias: f64 = rng.random_range(-1.0..1.0);
                for time in steps(issue, group) {
                    let value = forecast_value(m, time, altitude_offset + bias, &mut rng);
                    writeln!(
                        out,
                        "{},{value},{group:02},{site_field},{code},{unit}",
                        time.format("%Y-%m-%d %H:%M:%S+00:00")
                    )
                    .unwrap();
                }
            }
        }
    }
    // Rows silver must drop: a time before WEATHER_MIN_YEAR and an unparseable time.
    out.push_str("2019-01-01 00:00:00+00:00,1.0,00,Sion,PRED_T_2M_ctrl,°C\n");
    out.push_str("not a time,2.0,00,Sion,PRED_T_2M_ctrl,°C\n");
    out
}

/// Site names as the real files write them: now and then quoted with stray quotes or spaces.
fn site_field(site: &str, rng: &mut impl Rng) -> String {
    match (site, rng.random_range(0..3)) {
        ("Sion", 0) => "\"\"\"Sion\"\"\"".to_string(),
        ("Visp", _) => "\" Visp \"".to_string(),
        (s, _) if s.contains(' ') => format!("\"{s}\""),
        (s, _) => s.to_string(),
    }
}

fn forecast_value(
    measurement: usize,
    time: NaiveDateTime,
    offset: f64,
    rng: &mut impl Rng,
) -> String {
    if rng.random_bool(0.004) {
        return SENTINEL.to_string();
    }
    let hour = time.hour() as f64;
    let diurnal = ((hour - 9.0) / 24.0 * 2.0 * std::f64::consts::PI).sin();
    let value = match measurement {
        0 => 14.0 + 8.0 * diurnal + offset + rng.random_range(-0.5..0.5),
        1 => (70.0 - 20.0 * diurnal + rng.random_range(-5.0..5.0)).clamp(5.0, 100.0),
        2 => {
            if rng.random_bool(0.15) {
                rng.random_range(0.1..4.0)
            } else {
                0.0
            }
        }
        3 => (750.0 * ((hour - 6.0) / 14.0 * std::f64::consts::PI).sin()).max(0.0),
        _ => 95_000.0 + rng.random_range(-500.0..500.0),
    };
    // A rare wild value, flagged (not dropped) by silver.
    let value = if rng.random_bool(0.0002) {
        value + 500.0
    } else {
        value
    };
    format!("{:.1}", value)
}
