-- silver.ref_power_snapshots: measured power of a device at a time (pidb.profile). measuredAt
-- is the installation's wall-clock time, read in SENSOR_TIMEZONE like the sensor files.
SELECT
    try_cast(idprofile AS INT) AS profile_id,
    try_cast(iddevice AS INT) AS device_id,
    sensor_time_utc(try_cast(measuredat AS TIMESTAMP)) AS measured_at,
    try_cast(powerw AS DOUBLE) AS power_w
FROM pidb.profile
ORDER BY profile_id, device_id
