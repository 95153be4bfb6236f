-- silver.weather_file_stats: per forecast file, the rows left after each step of
-- silver.weather_forecasts, so that every dropped row is accounted for.
WITH readings AS (
    SELECT
        *,
        parsed AND date_part('year', ts) >= weather_min_year() AS in_years,
        value IS NOT NULL AND value <> -99999.0 AS has_value
    FROM query_file('silver/weather_readings.sql')
)

SELECT
    source_file,
    prediction_date,
    count(*) AS rows_read,
    count(*) FILTER (WHERE error IS NOT NULL) AS rows_unparseable,
    count(*) FILTER (WHERE parsed) AS rows_parsed,
    count(*) FILTER (WHERE in_years) AS rows_in_years,
    count(*) FILTER (WHERE in_years AND kept_measurement) AS rows_kept_measurements,
    count(*) FILTER (WHERE in_years AND kept_measurement AND has_value) AS rows_with_value,
    count(*) FILTER (
        WHERE in_years AND kept_measurement AND has_value AND (value < min_value OR value > max_value)
    ) AS rows_outliers
FROM readings
GROUP BY source_file, prediction_date
