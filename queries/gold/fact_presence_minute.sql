-- gold.fact_presence_minute: one row per room and UTC minute with a motion or door reading.
-- Partitioned by date_key. Presence comes from motion only: doors report a heartbeat every
-- minute, so an open door is no sign of anyone. presence_prob is filled by `ml predict` for the
-- minutes it forecasts (queries/ml/presence_forecast.sql).
WITH signals AS (
    SELECT apartment, room, ts, sensor_type, value
    FROM silver.sensor_events
    WHERE (sensor_type = 'motion' AND field = 'motion')
       OR (sensor_type = 'door' AND field = 'open')
)

SELECT
    datetime_key(ts) AS datetime_key,
    surrogate_key(apartment, room) AS room_key,
    date_key(ts) AS date_key,
    surrogate_key(apartment) AS apartment_key,
    -- Nullable (NULLIF never matches): `ml predict` adds minutes that are forecast, not observed.
    nullif(CAST(count(CASE WHEN sensor_type = 'motion' AND value >= 1 THEN 1 END) AS INT), -1)
        AS motion_count,
    max(CASE WHEN sensor_type = 'door' THEN value END) >= 1 AS door_open_flag,
    nullif(count(CASE WHEN sensor_type = 'motion' AND value >= 1 THEN 1 END) > 0, NULL)
        AS presence_flag,
    CAST(NULL AS DOUBLE) AS presence_prob
FROM signals
GROUP BY apartment, room, ts
