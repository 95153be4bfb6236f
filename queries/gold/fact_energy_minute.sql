-- gold.fact_energy_minute: one row per energy device and UTC minute with a reading.
-- Devices: every plug (power W, cumulative counter total Wh) and the apartment meter
-- (consumption total_power W). Partitioned by date_key.
--
-- energy_wh is the energy consumed in that minute (the original stored the cumulative counter as
-- "energy" and summed it):
--   plug   counter delta to the device's previous counter reading. A gap of k minutes gives the
--          whole delta to the first minute after it ('gap'); a decreasing counter is a reset and
--          counts its new value ('counter_reset'); no previous reading: NULL ('first_reading').
--   meter  power x minutes since its previous reading / 60, the minutes capped at 5
--          ('gap' up to 5, 'gap_capped' beyond); no previous reading: one minute ('first_reading').
-- The previous reading is looked for across midnight and gaps, up to 24 hours back: the runner
-- reads the day before each recomputed day, and a change in a day recomputes the day after.
-- cost_chf uses the tariff of the reading's UTC year (reference.tariffs; the highest price when a
-- year lists several providers; NULL for a year without tariff). is_valid: no input is an outlier.
WITH readings AS (
    SELECT
        apartment, room, sensor_type, ts,
        max(CASE WHEN field IN ('power', 'total_power') THEN value END) AS power_w,
        max(CASE WHEN field = 'total' THEN value END) AS counter_total_wh,
        bool_or(is_outlier) AS any_outlier
    FROM silver.sensor_events
    WHERE (sensor_type = 'plug' AND field IN ('power', 'total'))
       OR (sensor_type = 'consumption' AND field = 'total_power')
    GROUP BY apartment, room, sensor_type, ts
),

-- The reading each device's energy is computed from: the counter of a plug, the power of the meter.
sources AS (
    SELECT
        apartment, room, sensor_type, ts,
        CASE WHEN sensor_type = 'plug' THEN counter_total_wh ELSE power_w END AS source_value
    FROM readings
    WHERE CASE WHEN sensor_type = 'plug' THEN counter_total_wh ELSE power_w END IS NOT NULL
),

steps AS (
    SELECT
        apartment, room, sensor_type, ts, source_value,
        lag(ts) OVER device AS previous_ts,
        lag(source_value) OVER device AS previous_value
    FROM sources
    WINDOW device AS (PARTITION BY apartment, room, sensor_type ORDER BY ts)
),

energy AS (
    SELECT
        apartment, room, sensor_type, ts, source_value, previous_value,
        CASE WHEN previous_ts >= ts - INTERVAL '1 day'
             THEN (arrow_cast(ts, 'Int64') - arrow_cast(previous_ts, 'Int64')) / 60000000
        END AS minutes_since_previous
    FROM steps
),

energy_flagged AS (
    SELECT
        apartment, room, sensor_type, ts, minutes_since_previous,
        CASE
            WHEN sensor_type = 'plug' THEN CASE
                WHEN minutes_since_previous IS NULL THEN NULL
                WHEN source_value < previous_value THEN source_value
                ELSE source_value - previous_value
            END
            ELSE source_value * least(coalesce(minutes_since_previous, 1), 5) / 60.0
        END AS energy_wh,
        CASE
            WHEN minutes_since_previous IS NULL THEN 'first_reading'
            WHEN sensor_type = 'plug' AND source_value < previous_value THEN 'counter_reset'
            WHEN sensor_type <> 'plug' AND minutes_since_previous > 5 THEN 'gap_capped'
            WHEN minutes_since_previous > 1 THEN 'gap'
            ELSE 'ok'
        END AS energy_flag
    FROM energy
),

tariffs AS (
    SELECT CAST(year AS INT) AS year, max(CAST(chf_per_kwh AS DOUBLE)) AS chf_per_kwh
    FROM reference.tariffs
    GROUP BY CAST(year AS INT)
)

SELECT
    datetime_key(r.ts) AS datetime_key,
    surrogate_key(r.apartment, r.room, r.sensor_type) AS device_key,
    date_key(r.ts) AS date_key,
    surrogate_key(r.apartment, r.room) AS room_key,
    surrogate_key(r.apartment) AS apartment_key,
    r.power_w,
    r.counter_total_wh,
    e.energy_wh,
    e.energy_wh / 1000.0 AS energy_kwh,
    e.energy_wh / 1000.0 * t.chf_per_kwh AS cost_chf,
    e.minutes_since_previous,
    e.energy_flag,
    NOT r.any_outlier AS is_valid
FROM readings r
LEFT JOIN energy_flagged e
    ON e.apartment = r.apartment AND e.room = r.room AND e.sensor_type = r.sensor_type AND e.ts = r.ts
LEFT JOIN tariffs t ON t.year = CAST(date_part('year', r.ts) AS INT)
