//! Synthetic sensor files: one JSON document per apartment and minute, from a small simulation
//! of each apartment (occupancy, appliances, air quality, doors and windows).

use std::fmt::Write as _;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDateTime, Timelike, Weekday};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::apartments::{ApartmentProfile, Appliance, Station};
use super::{GenerateOptions, Result, io_error, rng};
use crate::lake::landing::sensors::SensorFileName;
use crate::ops::report::StepReport;

/// Write every file of every apartment into `dir`.
pub fn generate(
    dir: &Path,
    profiles: &[ApartmentProfile],
    options: &GenerateOptions,
) -> Result<StepReport> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let totals: Vec<Result<(u64, u64)>> = profiles
        .par_iter()
        .map(|profile| Simulation::new(profile, options).write_all(dir))
        .collect();
    let mut report = StepReport::new("generate sensors");
    for total in totals {
        let (files, bytes) = total?;
        report.files += files;
        report.bytes += bytes;
    }
    Ok(report)
}

/// Per-apartment state carried from minute to minute.
struct Simulation<'a> {
    profile: &'a ApartmentProfile,
    options: &'a GenerateOptions,
    rng: ChaCha8Rng,
    counters_wh: Vec<f64>,
    /// Power of each plug in the current minute.
    power: Vec<f64>,
    appliance_until: Vec<Option<NaiveDateTime>>,
    battery: Vec<f64>,
    co2: Vec<f64>,
    open: Vec<Vec<bool>>,
    pressure: f64,
    gaps: Vec<(NaiveDateTime, NaiveDateTime)>,
    buffer: String,
}

impl<'a> Simulation<'a> {
    fn new(profile: &'a ApartmentProfile, options: &'a GenerateOptions) -> Self {
        let mut rng = rng(options.seed, "sensors", profile.index as u64);
        let start = options.start.and_hms_opt(0, 0, 0).expect("midnight");
        // Source gaps longer than 30 minutes: one early in the set for the second apartment
        // (so even small sets have one), then one every nine days per apartment.
        let mut gaps = Vec::new();
        if profile.index == 1 % options.apartments.max(1) {
            let day = options.days.min(2).saturating_sub(1) as i64;
            let begin = start + Duration::days(day) + Duration::minutes(13 * 60 + 7);
            gaps.push((begin, begin + Duration::minutes(42)));
        }
        for day in (4 + profile.index as i64 % 5..options.days as i64).step_by(9) {
            let begin = start + Duration::days(day) + Duration::minutes(rng.random_range(0..1380));
            gaps.push((begin, begin + Duration::minutes(rng.random_range(31..75))));
        }
        let plugs = profile.plugs.len();
        let openings: Vec<Vec<bool>> = profile
            .doors
            .iter()
            .map(|d| vec![false; d.openings.len()])
            .collect();
        let batteries = openings.iter().map(Vec::len).sum::<usize>()
            + profile.meteos.len()
            + profile.humidities.len();
        Self {
            profile,
            options,
            counters_wh: (0..plugs)
                .map(|_| rng.random_range(10_000.0..200_000.0))
                .collect(),
            power: vec![0.0; plugs],
            appliance_until: vec![None; plugs],
            battery: (0..batteries)
                .map(|_| rng.random_range(60.0..100.0))
                .collect(),
            co2: vec![450.0; profile.meteos.len()],
            open: openings,
            pressure: 1013.0,
            gaps,
            buffer: String::with_capacity(8192),
            rng,
        }
    }

    /// Write all minutes; returns (files, bytes).
    fn write_all(mut self, dir: &Path) -> Result<(u64, u64)> {
        let start = self.options.start.and_hms_opt(0, 0, 0).expect("midnight");
        let minutes = self.options.days as i64 * 1440;
        let (mut files, mut bytes) = (0u64, 0u64);
        for m in 0..minutes {
            let minute = start + Duration::minutes(m);
            let in_gap = self.gaps.iter().any(|(a, b)| minute >= *a && minute < *b);
            self.step(minute);
            if in_gap || self.rng.random_bool(0.002) {
                continue;
            }
            let body = self.document(minute, m);
            let name = SensorFileName::format(minute, &self.profile.house);
            let path = dir.join(&name);
            std::fs::write(&path, body.as_bytes()).map_err(io_error(&path))?;
            files += 1;
            bytes += body.len() as u64;
        }
        Ok((files, bytes))
    }

    /// Someone is home: nights and weekends, except on the odd day away.
    fn occupied(&self, minute: NaiveDateTime) -> bool {
        let away_day = (minute.ordinal() + self.profile.index * 3).is_multiple_of(11);
        let weekend = matches!(minute.weekday(), Weekday::Sat | Weekday::Sun);
        !away_day && (weekend || !(8..17).contains(&minute.hour()))
    }

    /// Advance the simulation by one minute.
    fn step(&mut self, minute: NaiveDateTime) {
        let occupied = self.occupied(minute);
        self.pressure = (self.pressure + self.rng.random_range(-0.05..0.05)).clamp(985.0, 1035.0);
        for co2 in &mut self.co2 {
            let target = if occupied { 1100.0 } else { 430.0 };
            *co2 += (target - *co2) * 0.02 + self.rng.random_range(-5.0..5.0);
        }
        for battery in &mut self.battery {
            *battery = (*battery - 0.0004).max(5.0);
        }
        let flip = if occupied { 0.01 } else { 0.001 };
        for room in &mut self.open {
            for open in room.iter_mut() {
                if self.rng.random_bool(flip) {
                    *open = !*open;
                }
            }
        }
        for i in 0..self.profile.plugs.len() {
            let power = self.plug_power(i, minute, occupied);
            self.power[i] = power;
            self.counters_wh[i] += power / 60.0;
        }
        // A meter reset now and then (replaced or re-paired plug).
        if minute.hour() == 4
            && minute.minute() == 0
            && minute.ordinal() % 17 == self.profile.index % 17
        {
            self.counters_wh[0] = 0.0;
        }
    }

    fn plug_power(&mut self, i: usize, minute: NaiveDateTime, occupied: bool) -> f64 {
        let hour = minute.hour();
        let running = self.appliance_until[i].is_some_and(|until| minute < until);
        let appliance = self.profile.plugs[i].appliance;
        let cycle = |rng: &mut ChaCha8Rng, chance: f64, minutes: i64| {
            rng.random_bool(chance)
                .then(|| minute + Duration::minutes(minutes))
        };
        match appliance {
            Appliance::Computer if occupied && (8..23).contains(&hour) => {
                60.0 + self.rng.random_range(0.0..60.0)
            }
            Appliance::Television if occupied && (18..24).contains(&hour) => {
                85.0 + self.rng.random_range(0.0..10.0)
            }
            Appliance::Fridge => {
                if minute.minute() % 20 < 7 {
                    110.0
                } else {
                    2.0
                }
            }
            Appliance::Lamp if occupied && !(7..19).contains(&hour) => 9.0,
            Appliance::Dishwasher | Appliance::Dryer | Appliance::WashingMachine => {
                if !running && (19..22).contains(&hour) {
                    self.appliance_until[i] = cycle(&mut self.rng, 0.004, 90);
                }
                if self.appliance_until[i].is_some_and(|until| minute < until) {
                    1800.0 + self.rng.random_range(-200.0..200.0)
                } else {
                    0.5
                }
            }
            _ => 1.5,
        }
    }

    /// The JSON document of one minute, with the defects real files have.
    fn document(&mut self, minute: NaiveDateTime, index: i64) -> String {
        let forced = forced_defect(self.profile.index, index);
        if forced == Some(Defect::NotJson) || self.rng.random_bool(1.0 / 40_000.0) {
            return "<html><body>502 Bad Gateway</body></html>".to_string();
        }
        let occupied = self.occupied(minute);
        let mut b = std::mem::take(&mut self.buffer);
        b.clear();
        let epoch = minute.and_utc().timestamp();
        let datetime = match self.rng.random_range(0..10_000) {
            0..10 => (minute + Duration::minutes(1))
                .format("%d.%m.%Y %H:%M")
                .to_string(),
            10..15 => "--.--.---- --:--".to_string(),
            _ => minute.format("%d.%m.%Y %H:%M").to_string(),
        };
        write!(
            b,
            r#"{{"user":"{}","api_token":"tok_{:016x}","datetime":"{}""#,
            self.profile.house,
            0x5eed_u64 ^ self.options.seed,
            datetime
        )
        .unwrap();

        b.push_str(r#","plugs":{"#);
        for i in 0..self.profile.plugs.len() {
            let plug = self.profile.plugs[i].clone();
            let power = self.outlier(self.power[i], 25_000.0);
            if i > 0 {
                b.push(',');
            }
            write!(b, r#""{}":{{"timePlug":{epoch},"power":{},"overpower":0,"is_valid":true,"counter1":{},"counter2":0,"counter3":0,"total":{}"#,
                plug.room, self.maybe_null(power, 2), (self.counters_wh[i] / 10.0) as i64, self.counters_wh[i] as i64).unwrap();
            if plug.has_temperature {
                let t = 22.0 + self.rng.random_range(-1.0..3.0);
                write!(b, r#","temperature":{}"#, self.maybe_null(t, 1)).unwrap();
            }
            b.push_str(r#","overtemperature":false,"switch":true}"#);
        }
        b.push('}');

        b.push_str(r#","doorsWindows":{"#);
        let mut battery = 0;
        for (r, room) in self.profile.doors.clone().iter().enumerate() {
            if r > 0 {
                b.push(',');
            }
            write!(b, r#""{}":"#, room.room).unwrap();
            if !room.single_object {
                b.push('[');
            }
            for (o, kind) in room.openings.iter().enumerate() {
                if o > 0 {
                    b.push(',');
                }
                let switch = if self.open[r][o] { "on" } else { "off" };
                let level = self.battery_reading(battery);
                battery += 1;
                write!(
                    b,
                    r#"{{"type":"{kind}","switch":"{switch}","battery":{level},"defense":0}}"#
                )
                .unwrap();
            }
            if !room.single_object {
                b.push(']');
            }
        }
        b.push('}');

        b.push_str(r#","motions":{"#);
        for (m, room) in self.profile.motions.iter().enumerate() {
            if m > 0 {
                b.push(',');
            }
            let chance = if occupied { 0.25 } else { 0.003 };
            let motion = self.rng.random_bool(chance);
            let daylight = ((minute.hour() as f64 - 6.0) / 14.0 * std::f64::consts::PI)
                .sin()
                .max(0.0);
            let light = if *room == "Outside" {
                20_000.0 * daylight
            } else {
                300.0 * daylight + if occupied { 120.0 } else { 0.0 }
            };
            let t = 21.5 + self.rng.random_range(-0.5..0.5);
            write!(
                b,
                r#""{room}":{{"motion":{motion},"light":{},"temperature":{}}}"#,
                light.round(),
                self.maybe_null(t, 1)
            )
            .unwrap();
        }
        b.push('}');

        b.push_str(if self.profile.meteo_level {
            r#","meteos":{"meteo":{"#
        } else {
            r#","meteos":{"#
        });
        let outdoor =
            14.0 + 9.0 * ((minute.hour() as f64 - 9.0) / 24.0 * 2.0 * std::f64::consts::PI).sin();
        for (s, (room, station)) in self.profile.meteos.iter().enumerate() {
            if s > 0 {
                b.push(',');
            }
            let co2 = self.outlier(self.co2[s], 9999.0);
            let indoor = self.outlier(
                21.0 + 2.0 * (minute.hour() as f64 / 24.0 * std::f64::consts::PI).sin(),
                -45.0,
            );
            let level = self.battery_reading(battery);
            battery += 1;
            match station {
                Station::Main => write!(b, r#""{room}":{{"Temperature":{},"CO2":{},"Humidity":{},"Noise":{},"Pressure":{},"AbsolutePressure":{}}}"#,
                    self.maybe_null(indoor, 1), self.maybe_null(co2.round(), 0), 45 + self.rng.random_range(0..10),
                    35 + self.rng.random_range(0..15), round(self.pressure, 1), round(self.pressure - 55.0, 1)).unwrap(),
                Station::Module => write!(b, r#""{room}":{{"Temperature":{},"CO2":{},"battery_percent":{level}}}"#,
                    self.maybe_null(indoor - 0.5, 1), self.maybe_null(co2.round(), 0)).unwrap(),
                Station::Outdoor => write!(b, r#""{room}":{{"Temperature":{},"Humidity":{},"battery_percent":{level}}}"#,
                    self.maybe_null(outdoor, 1), 60 + self.rng.random_range(0..30)).unwrap(),
            }
        }
        b.push_str(if self.profile.meteo_level { "}}" } else { "}" });

        b.push_str(r#","humidities":{"#);
        for (h, room) in self.profile.humidities.iter().enumerate() {
            if h > 0 {
                b.push(',');
            }
            let level = self.battery_reading(battery);
            battery += 1;
            let humidity = 55.0 + self.rng.random_range(-5.0..15.0);
            write!(
                b,
                r#""{room}":{{"temperature":{},"humidity":{},"devicePower":{level}}}"#,
                round(23.0 + self.rng.random_range(-1.0..1.0), 1),
                self.maybe_null(humidity, 1)
            )
            .unwrap();
        }
        b.push('}');

        let house: f64 = 150.0 + self.power.iter().sum::<f64>();
        let phases = [house * 0.5, house * 0.35, house * 0.15];
        write!(
            b,
            r#","consumptions":{{"House":{{"timeConsumption":{epoch}"#
        )
        .unwrap();
        for (p, power) in phases.iter().enumerate() {
            let voltage = 230.0 + self.rng.random_range(-3.0..4.0);
            write!(
                b,
                r#","power{n}":{},"pf{n}":0.96,"current{n}":{},"voltage{n}":{},"is_valid{n}":true"#,
                round(*power, 2),
                round(power / voltage, 3),
                round(voltage, 1),
                n = p + 1
            )
            .unwrap();
        }
        write!(
            b,
            r#","total_power":{},"switch":true}}}}}}"#,
            round(house, 2)
        )
        .unwrap();

        let out = if forced == Some(Defect::Truncated) || self.rng.random_bool(1.0 / 5_000.0) {
            b[..b.len() * 2 / 3].to_string()
        } else {
            b.clone()
        };
        self.buffer = b;
        out
    }

    fn battery_reading(&mut self, i: usize) -> String {
        let level = self.outlier(self.battery[i].round(), 255.0);
        self.maybe_null(level, 0)
    }

    /// `value`, or now and then an out-of-range `wild` value.
    fn outlier(&mut self, value: f64, wild: f64) -> f64 {
        if self.rng.random_bool(0.0005) {
            wild
        } else {
            value
        }
    }

    /// `value` formatted with `decimals`, or now and then `null`.
    fn maybe_null(&mut self, value: f64, decimals: u32) -> String {
        if self.rng.random_bool(0.003) {
            "null".to_string()
        } else {
            round(value, decimals).to_string()
        }
    }
}

fn round(value: f64, decimals: u32) -> f64 {
    let factor = 10f64.powi(decimals as i32);
    (value * factor).round() / factor
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Defect {
    Truncated,
    NotJson,
}

/// Defects every data set has at least once, at fixed minutes of the first day.
fn forced_defect(apartment: u32, minute_index: i64) -> Option<Defect> {
    match (apartment, minute_index) {
        (0, 197) => Some(Defect::Truncated),
        (0, 601) => Some(Defect::NotJson),
        (1, 433) => Some(Defect::Truncated),
        _ => None,
    }
}
