-- The rows of bronze.weather_rows with their fields parsed: the shared first step of
-- silver.weather_forecasts and silver.weather_file_stats (both read it with query_file).
--
-- Reference reference.weather_measurements: the measurement codes silver keeps, with their
--           inclusive valid range.
WITH fields AS (
    SELECT
        source_file,
        prediction_date,
        line,
        error,
        -- `Time` is UTC with an explicit offset (`2023-10-03 09:00:00+00:00`); unparseable: null.
        utc_time(time) AS ts,
        -- Quotes stripped, trimmed: `"""Sion"""` and ` Sion ` are Sion.
        clean_site(site) AS site,
        try_cast(trim(prediction) AS SMALLINT) AS prediction,
        measurement,
        try_cast(value AS DOUBLE) AS value,
        trim(unit) AS unit
    FROM bronze.weather_rows
)

SELECT
    f.*,
    m.code IS NOT NULL AS kept_measurement,
    m.min_value,
    m.max_value,
    -- A row can be keyed only with a time, a prediction group and a site.
    f.error IS NULL AND f.ts IS NOT NULL AND f.prediction IS NOT NULL AND f.site <> '' AS parsed
FROM fields f
LEFT JOIN reference.weather_measurements m ON m.code = f.measurement
