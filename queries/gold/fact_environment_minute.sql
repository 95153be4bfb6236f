-- gold.fact_environment_minute: one row per room and UTC minute with an indoor-climate or
-- opening reading. Partitioned by date_key.
--   temperature_c  meteo station, else humidity sensor, else motion sensor (plugs measure
--                  their own temperature, not the room's)
--   humidity_pct   meteo station, else humidity sensor
--   *_open_flag    any window / door of the room open; NULL when the room has no such sensor
--   is_anomaly     any input value of the row is an outlier
WITH climate AS (
    SELECT apartment, room, ts, sensor_type, field, value, is_outlier
    FROM silver.sensor_events
    WHERE (sensor_type = 'meteo' AND field IN ('temperature_c', 'humidity_pct', 'co2_ppm', 'noise_db', 'pressure_hpa'))
       OR (sensor_type = 'humidity' AND field IN ('temperature', 'humidity'))
       OR (sensor_type = 'motion' AND field = 'temperature')
       OR (sensor_type IN ('window', 'door') AND field = 'open')
)

SELECT
    datetime_key(ts) AS datetime_key,
    surrogate_key(apartment, room) AS room_key,
    date_key(ts) AS date_key,
    surrogate_key(apartment) AS apartment_key,
    coalesce(
        avg(CASE WHEN sensor_type = 'meteo' AND field = 'temperature_c' THEN value END),
        avg(CASE WHEN sensor_type = 'humidity' AND field = 'temperature' THEN value END),
        avg(CASE WHEN sensor_type = 'motion' AND field = 'temperature' THEN value END)
    ) AS temperature_c,
    coalesce(
        avg(CASE WHEN sensor_type = 'meteo' AND field = 'humidity_pct' THEN value END),
        avg(CASE WHEN sensor_type = 'humidity' AND field = 'humidity' THEN value END)
    ) AS humidity_pct,
    avg(CASE WHEN field = 'co2_ppm' THEN value END) AS co2_ppm,
    avg(CASE WHEN field = 'noise_db' THEN value END) AS noise_db,
    avg(CASE WHEN field = 'pressure_hpa' THEN value END) AS pressure_hpa,
    max(CASE WHEN sensor_type = 'window' THEN value END) >= 1 AS window_open_flag,
    max(CASE WHEN sensor_type = 'door' THEN value END) >= 1 AS door_open_flag,
    bool_or(is_outlier) AS is_anomaly
FROM climate
GROUP BY apartment, room, ts
