-- gold.ml_energy_features: one row per apartment, room and 15-minute UTC slot with valid plug
-- power readings. Partitioned by date_key.
--
-- Target: power_w = mean of the slot's plug `power` readings that are not outliers, with their
-- count. Lags 1, 4, 96 and 672 slots (15 minutes, an hour, a day, a week) are the same
-- (apartment, room)'s value at exactly that earlier slot, so they never cross groups; a row
-- without all four is dropped. Weather is the home site's (first of WEATHER_SITES) from gold.weather_best_forecast
-- for the hour of the slot: only forecasts issued strictly before the slot's date (the
-- anti-leakage rule lives there); a slot without a complete forecast hour is dropped.
-- One-hot columns of apartment and room are expanded when a model is trained (docs/ml.md).
WITH slots AS (
    SELECT
        apartment,
        room,
        quarter_hour(ts) AS slot_ts,
        -- The mean at milliwatt resolution, summed as integers: a float sum depends on the order
        -- the readings arrive in, which differs between a full build and ticks.
        CAST(sum(CAST(round(value * 1000) AS BIGINT)) AS DOUBLE) / count(*) / 1000.0 AS power_w,
        count(*) AS reading_count
    FROM silver.sensor_events
    WHERE sensor_type = 'plug' AND field = 'power' AND NOT is_outlier AND value IS NOT NULL
    GROUP BY apartment, room, quarter_hour(ts)
),

-- The same (apartment, room) exactly 15 minutes, an hour, a day and a week earlier: a window
-- frame of that one instant (NULL when that slot has no reading). One pass over the slots, where
-- a self-join per lag planned the readings' scan and aggregation five times.
lagged AS (
    SELECT
        *,
        first_value(power_w) OVER (PARTITION BY apartment, room ORDER BY slot_ts
            RANGE BETWEEN INTERVAL '15 minutes' PRECEDING AND INTERVAL '15 minutes' PRECEDING)
            AS power_w_lag1,
        first_value(power_w) OVER (PARTITION BY apartment, room ORDER BY slot_ts
            RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND INTERVAL '1 hour' PRECEDING)
            AS power_w_lag4,
        first_value(power_w) OVER (PARTITION BY apartment, room ORDER BY slot_ts
            RANGE BETWEEN INTERVAL '1 day' PRECEDING AND INTERVAL '1 day' PRECEDING)
            AS power_w_lag96,
        first_value(power_w) OVER (PARTITION BY apartment, room ORDER BY slot_ts
            RANGE BETWEEN INTERVAL '7 days' PRECEDING AND INTERVAL '7 days' PRECEDING)
            AS power_w_lag672
    FROM slots
),

weather AS (
    SELECT * FROM query_file('ml/home_weather.sql')
)

SELECT
    date_key(s.slot_ts) AS date_key,
    s.apartment,
    s.room,
    surrogate_key(s.apartment) AS apartment_key,
    surrogate_key(s.apartment, s.room) AS room_key,
    s.slot_ts,
    s.power_w,
    CAST(s.reading_count AS INT) AS reading_count,
    CAST(date_part('hour', s.slot_ts) AS INT) AS hour,
    iso_day_of_week(s.slot_ts) AS day_of_week,
    CAST(date_part('month', s.slot_ts) AS INT) AS month,
    iso_day_of_week(s.slot_ts) >= 6 AS is_weekend,
    s.power_w_lag1,
    s.power_w_lag4,
    s.power_w_lag96,
    s.power_w_lag672,
    w.temperature_c,
    w.humidity_pct,
    w.precipitation_mm,
    w.radiation_wm2
FROM lagged s
JOIN weather w ON w.datetime_key = datetime_key(date_trunc('hour', s.slot_ts))
WHERE s.power_w_lag1 IS NOT NULL
  AND s.power_w_lag4 IS NOT NULL
  AND s.power_w_lag96 IS NOT NULL
  AND s.power_w_lag672 IS NOT NULL
