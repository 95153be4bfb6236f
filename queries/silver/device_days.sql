-- silver.device_days: one row per device and UTC day it reported on, from silver.sensor_events.
-- A device is (apartment, room, sensor_type). Small (devices x days): gold's device dimension
-- and device-health fact read it instead of scanning every reading.
--
-- readings          field values reported that day
-- minutes_reported  distinct minutes with at least one value
-- first_ts/last_ts  first and last minute reported that day
-- battery_*         over the device's battery field, outliers excluded (NULL without battery);
--                   summed as decimals, so the mean does not depend on row order
WITH minutes AS (
    SELECT
        apartment, room, sensor_type, date, ts,
        count(*) AS readings,
        min(CASE WHEN field = 'battery' AND NOT is_outlier THEN value END) AS battery_min,
        sum(CASE WHEN field = 'battery' AND NOT is_outlier THEN CAST(value AS DECIMAL(20, 6)) END) AS battery_sum,
        count(CASE WHEN field = 'battery' AND NOT is_outlier THEN value END) AS battery_n
    FROM silver.sensor_events
    GROUP BY apartment, room, sensor_type, date, ts
)

SELECT
    apartment,
    room,
    sensor_type,
    date,
    sum(readings) AS readings,
    count(*) AS minutes_reported,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    min(battery_min) AS battery_min_pct,
    CAST(sum(battery_sum) / sum(battery_n) AS DOUBLE) AS battery_avg_pct
FROM minutes
GROUP BY apartment, room, sensor_type, date
