-- silver.device_days: one row per device and UTC day it reported on, from silver.sensor_events.
-- A device is (apartment, room, sensor_type). Small (devices x days): gold's device dimension
-- and device-health fact read it instead of scanning every reading.
--
-- readings          field values reported that day
-- minutes_reported  distinct minutes with at least one value
-- first_ts/last_ts  first and last minute reported that day
-- battery_*         over the device's battery field, outliers excluded (NULL without battery);
--                   summed as decimals, so the mean does not depend on row order
-- One aggregation: distinct minutes are counted per device-day (a small set per group), not
-- by grouping every device-minute first (millions of groups). The sum is widened to the
-- precision the mean has always been divided at.
SELECT
    apartment,
    room,
    sensor_type,
    date,
    count(*) AS readings,
    count(DISTINCT ts) AS minutes_reported,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    min(value) FILTER (WHERE field = 'battery' AND NOT is_outlier) AS battery_min_pct,
    CAST(
        CAST(
            sum(CAST(value AS DECIMAL(20, 6))) FILTER (WHERE field = 'battery' AND NOT is_outlier)
            AS DECIMAL(38, 6)
        ) / count(value) FILTER (WHERE field = 'battery' AND NOT is_outlier)
        AS DOUBLE
    ) AS battery_avg_pct
FROM silver.sensor_events
GROUP BY apartment, room, sensor_type, date
