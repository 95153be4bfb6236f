//! Forecast files in landing: `landing/weather/YYYY/MM/DD/Pred_YYYY-MM-DD.csv`, by issue date,
//! and their queue.

use chrono::NaiveDate;

/// Name of the landing queue weather files are handed over in.
pub const QUEUE: &str = "weather";
/// Root of the weather landing zone inside the lake.
pub const ROOT: &str = "landing/weather";

/// The issue date of a forecast file name `Pred_YYYY-MM-DD.csv`.
pub fn prediction_date(name: &str) -> Option<NaiveDate> {
    let date = name.strip_prefix("Pred_")?.strip_suffix(".csv")?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// Landing path (relative to the lake root) of a forecast file.
pub fn landing_path(name: &str, date: NaiveDate) -> String {
    format!("{ROOT}/{}/{name}", date.format("%Y/%m/%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_the_prediction_date() {
        assert_eq!(
            prediction_date("Pred_2023-10-03.csv"),
            NaiveDate::from_ymd_opt(2023, 10, 3)
        );
        assert_eq!(prediction_date("Pred_2023-13-03.csv"), None);
        assert_eq!(prediction_date("notes.csv"), None);
        assert_eq!(
            landing_path(
                "Pred_2023-10-03.csv",
                NaiveDate::from_ymd_opt(2023, 10, 3).unwrap()
            ),
            "landing/weather/2023/10/03/Pred_2023-10-03.csv"
        );
    }
}
