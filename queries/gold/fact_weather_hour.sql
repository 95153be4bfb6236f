-- gold.fact_weather_hour: per forecast revision (prediction_date), site of WEATHER_SITES and
-- UTC hour, each measure averaged over the prediction groups (model runs), outliers excluded.
-- Partitioned by prediction_date (a forecast file is one revision). Means are taken over
-- decimals: a sum of doubles depends on the order rows arrive in, and gold must not.
SELECT
    datetime_key(date_trunc('hour', f.ts)) AS datetime_key,
    surrogate_key(f.site) AS site_key,
    f.prediction_date,
    date_key(date_trunc('hour', f.ts)) AS date_key,
    CAST(avg(CASE WHEN m.measurement = 'temperature_c' THEN CAST(f.value AS DECIMAL(20, 6)) END) AS DOUBLE) AS temperature_c,
    CAST(avg(CASE WHEN m.measurement = 'humidity_pct' THEN CAST(f.value AS DECIMAL(20, 6)) END) AS DOUBLE) AS humidity_pct,
    CAST(avg(CASE WHEN m.measurement = 'precipitation_mm' THEN CAST(f.value AS DECIMAL(20, 6)) END) AS DOUBLE) AS precipitation_mm,
    CAST(avg(CASE WHEN m.measurement = 'radiation_wm2' THEN CAST(f.value AS DECIMAL(20, 6)) END) AS DOUBLE) AS radiation_wm2,
    CAST(count(DISTINCT f.prediction) AS INT) AS n_model_runs
FROM silver.weather_forecasts f
JOIN reference.weather_sites s ON s.site_name = f.site
JOIN reference.weather_measurements m ON m.code = f.measurement
WHERE NOT f.is_outlier
GROUP BY date_trunc('hour', f.ts), f.site, f.prediction_date
