-- gold.fact_device_health_day: one row per device and UTC day its apartment has data for, from
-- the device's first day on (a silent device gets a row with 0 readings). Partitioned by date_key.
--   expected_minutes  1440, but a day that starts (ends) an observed window (the apartment has
--                     no data the day before (after)) counts from its first (to its last) minute
--   missing_readings  expected_minutes - minutes with a reading of the device
--   uptime_pct        minutes with a reading / expected_minutes, in percent
--   battery_*         NULL for a device without battery
--   error_count       errors of the apartment that day (silver.sensor_errors, UTC day)
WITH apartment_days AS (
    SELECT apartment, date, min(first_ts) AS first_ts, max(last_ts) AS last_ts
    FROM silver.device_days
    GROUP BY apartment, date
),

windows AS (
    SELECT
        apartment, date,
        CASE WHEN lag(date) OVER days = date - INTERVAL '1 day'
             THEN arrow_cast(CAST(date AS TIMESTAMP), 'Timestamp(Microsecond, Some("UTC"))')
             ELSE first_ts
        END AS window_start,
        CASE WHEN lead(date) OVER days = date + INTERVAL '1 day'
             THEN arrow_cast(CAST(date AS TIMESTAMP) + INTERVAL '1 day', 'Timestamp(Microsecond, Some("UTC"))')
             ELSE last_ts + INTERVAL '1 minute'
        END AS window_end
    FROM apartment_days
    WINDOW days AS (PARTITION BY apartment ORDER BY date)
),

errors AS (
    SELECT apartment, utc_date(ts) AS date, count(*) AS error_count
    FROM silver.sensor_errors
    WHERE apartment IS NOT NULL AND ts IS NOT NULL
    GROUP BY apartment, utc_date(ts)
),

device_days AS (
    SELECT
        w.apartment, w.date, dev.room_name AS room, dev.sensor_type,
        (arrow_cast(w.window_end, 'Int64') - arrow_cast(w.window_start, 'Int64')) / 60000000 AS expected_minutes
    FROM windows w
    JOIN gold.dim_device dev ON dev.apartment_id = w.apartment AND dev.first_seen_date <= w.date
)

SELECT
    date_key(d.date) AS date_key,
    surrogate_key(d.apartment, d.room, d.sensor_type) AS device_key,
    surrogate_key(d.apartment, d.room) AS room_key,
    surrogate_key(d.apartment) AS apartment_key,
    coalesce(r.readings, 0) AS readings,
    coalesce(r.minutes_reported, 0) AS minutes_reported,
    d.expected_minutes,
    greatest(d.expected_minutes - coalesce(r.minutes_reported, 0), 0) AS missing_readings,
    round(100.0 * least(coalesce(r.minutes_reported, 0), d.expected_minutes) / d.expected_minutes, 2) AS uptime_pct,
    r.battery_min_pct,
    r.battery_avg_pct,
    coalesce(e.error_count, 0) AS error_count
FROM device_days d
LEFT JOIN silver.device_days r
    ON r.apartment = d.apartment AND r.date = d.date AND r.room = d.room AND r.sensor_type = d.sensor_type
LEFT JOIN errors e ON e.apartment = d.apartment AND e.date = d.date
