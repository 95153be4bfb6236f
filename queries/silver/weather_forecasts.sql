-- silver.weather_forecasts: one forecast value per (ts, site, prediction, prediction_date,
-- measurement). Every revision is kept: consecutive files overlap, and each file (issue date =
-- prediction_date) is its own revision.
--
-- Dropped, in order (counted per file in silver.weather_file_stats): rows whose time or
-- prediction group does not parse or whose site is empty, times before WEATHER_MIN_YEAR, measurement codes other than the four kept ones, and
-- missing values (the sentinel -99999.0, or no number). Values outside the valid range are
-- flagged, never dropped. A key repeated within a file keeps its last line.
WITH kept AS (
    SELECT *
    FROM query_file('silver/weather_readings.sql')
    WHERE parsed
      AND date_part('year', ts) >= weather_min_year()
      AND kept_measurement
      AND value IS NOT NULL
      AND value <> -99999.0
),

deduplicated AS (
    SELECT
        ts, site, prediction, prediction_date, measurement,
        max_by(value, line) AS value,
        max_by(unit, line) AS unit,
        max(min_value) AS min_value,
        max(max_value) AS max_value
    FROM kept
    GROUP BY ts, site, prediction, prediction_date, measurement
)

SELECT
    ts,
    site,
    prediction,
    prediction_date,
    measurement,
    value,
    unit,
    value < min_value OR value > max_value AS is_outlier
FROM deduplicated
