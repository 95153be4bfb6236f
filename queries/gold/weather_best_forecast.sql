-- gold.weather_best_forecast: per site and target hour, the forecast a model could have known
-- the day before: the latest revision issued strictly before the target's UTC date (the
-- anti-leakage rule). ML features read weather from here, never from later revisions.
WITH candidates AS (
    SELECT
        h.datetime_key, h.site_key, h.date_key, h.prediction_date, h.temperature_c,
        h.humidity_pct, h.precipitation_mm, h.radiation_wm2, h.n_model_runs,
        row_number() OVER (
            PARTITION BY h.site_key, h.datetime_key ORDER BY h.prediction_date DESC
        ) AS rank
    FROM gold.fact_weather_hour h
    WHERE date_key(h.prediction_date) < h.date_key
)

SELECT
    datetime_key, site_key, date_key, prediction_date,
    temperature_c, humidity_pct, precipitation_mm, radiation_wm2, n_model_runs
FROM candidates
WHERE rank = 1
