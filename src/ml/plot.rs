//! `--plot DIR`: SVG files of a benchmark. Occupancy: the ROC curves of the three classifiers
//! on the test period, AUC in the legend. Energy: actual and predicted power (the selected
//! model, all rooms summed per slot) over the test period. Text uses plotters' built-in font
//! metrics and the viewer's sans-serif font, so no font needs to be installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::benchmark::{TargetBenchmark, TestPredictions};
use super::metrics::roc_curve;
use super::{MlError, Result, Target};

const SIZE: (u32, u32) = (900, 560);
const COLORS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
];

/// Write the plots of `benchmark`; the paths written.
pub fn write(
    dir: &Path,
    benchmark: &TargetBenchmark,
    test: &TestPredictions,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| output_error(dir, e))?;
    let path = dir.join(match benchmark.target {
        Target::Occupancy => "occupancy_roc.svg",
        Target::Energy => "energy_test_period.svg",
    });
    let drawn = match benchmark.target {
        Target::Occupancy => roc(&path, benchmark, test),
        Target::Energy => power(&path, benchmark, test),
    };
    drawn.map_err(|e| output_error(&path, e))?;
    Ok(vec![path])
}

fn output_error(path: &Path, e: impl std::fmt::Display) -> MlError {
    MlError::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;

fn roc(path: &Path, benchmark: &TargetBenchmark, test: &TestPredictions) -> Drawn {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Occupancy: ROC on the test period", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("false positive rate")
        .y_desc("true positive rate")
        .draw()?;
    chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))?;
    let classifiers = benchmark.scores.iter().filter(|s| !s.is_baseline);
    for (k, score) in classifiers.enumerate() {
        let Some((_, scores)) = test.models.iter().find(|(m, _)| *m == score.model) else {
            continue;
        };
        let auc = score.metrics.auc.unwrap_or(f64::NAN);
        line(
            &mut chart,
            roc_curve(&test.actual, scores),
            format!("{} (AUC {auc:.3})", score.model),
            COLORS[k % COLORS.len()],
        )?;
    }
    finish(&mut chart, &root, SeriesLabelPosition::LowerRight)
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A labelled line.
fn line<'a>(
    chart: &mut Chart<'_, 'a>,
    points: impl IntoIterator<Item = (f64, f64)>,
    label: String,
    color: RGBColor,
) -> Drawn {
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(2)))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    Ok(())
}

/// The legend, then the file.
fn finish<'a>(
    chart: &mut Chart<'a, 'a>,
    root: &DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
    legend: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn power(path: &Path, benchmark: &TargetBenchmark, test: &TestPredictions) -> Drawn {
    let selected = benchmark
        .selected()
        .map(|s| s.model.clone())
        .unwrap_or_default();
    let Some((_, predicted)) = test.models.iter().find(|(m, _)| *m == selected) else {
        return Ok(());
    };
    // Sum over rooms per slot, as hours since the start of the test period.
    let start = test.slots.first().copied().unwrap_or(0);
    let mut totals: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for ((slot, actual), predicted) in test.slots.iter().zip(&test.actual).zip(predicted) {
        let entry = totals.entry(*slot).or_default();
        entry.0 += actual;
        entry.1 += predicted;
    }
    let hours = |slot: i64| (slot - start) as f64 / 3.6e9;
    let x_max = totals.keys().last().map_or(1.0, |s| hours(*s).max(1.0));
    let y_max = totals.values().map(|(a, p)| a.max(*p)).fold(1.0, f64::max) * 1.05;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let start_text = chrono::DateTime::from_timestamp_micros(start)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Energy: actual vs {selected}, test period"),
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc(format!("hours since {start_text}"))
        .y_desc("power of all rooms (W)")
        .draw()?;
    let actual = totals.iter().map(|(slot, (a, _))| (hours(*slot), *a));
    line(&mut chart, actual, "actual".into(), COLORS[0])?;
    let predicted = totals.iter().map(|(slot, (_, p))| (hours(*slot), *p));
    line(&mut chart, predicted, "predicted".into(), COLORS[1])?;
    finish(&mut chart, &root, SeriesLabelPosition::UpperRight)
}
