-- gold.ml_occupancy_features: one row per apartment, room and 15-minute UTC slot, for the rooms
-- of reference.ml_occupancy_rooms that have a motion sensor. Partitioned by date_key.
--
-- Target: occupied = any motion in the slot. A slot is on the grid from the first to the last
-- slot of that day in which the room's motion sensor reported; a slot without an event counts 0
-- events (absence is 0, not missing). Lags look back along the grid of the same (apartment,
-- room) only: a frame of exactly the earlier instant in the group, never a row offset, so a lag
-- never crosses groups or skips a gap. Rows whose lag-1 slot is not on the grid are dropped.
-- `occupied_same_slot_yesterday` is not a model feature: it feeds the baseline of that name
-- (false when yesterday's slot is not on the grid: no event seen).
-- One-hot columns of apartment and room are expanded from `apartment` and `room` when a model
-- is trained (their values are data, not columns; docs/ml.md).
WITH readings AS (
    SELECT
        e.apartment,
        e.room,
        e.sensor_type,
        e.value,
        quarter_hour(e.ts) AS slot_ts
    FROM silver.sensor_events e
    JOIN reference.ml_occupancy_rooms r ON r.room = e.room
    WHERE (e.sensor_type = 'motion' AND e.field = 'motion')
       OR (e.sensor_type IN ('door', 'window') AND e.field = 'open')
),

counts AS (
    SELECT
        apartment,
        room,
        slot_ts,
        count(*) FILTER (WHERE sensor_type = 'motion' AND value >= 1) AS motion_count,
        count(*) FILTER (WHERE sensor_type = 'door' AND value >= 1) AS door_open_count,
        count(*) FILTER (WHERE sensor_type = 'window' AND value >= 1) AS window_open_count
    FROM readings
    GROUP BY apartment, room, slot_ts
),

observed_days AS (
    SELECT apartment, room, min(slot_ts) AS first_slot, max(slot_ts) AS last_slot
    FROM readings
    WHERE sensor_type = 'motion'
    GROUP BY apartment, room, CAST(slot_ts AS DATE)
),

grid AS (
    SELECT
        apartment,
        room,
        quarter_hour(unnest(generate_series(first_slot, last_slot, INTERVAL '15 minutes'))) AS slot_ts
    FROM observed_days
),

slots AS (
    SELECT
        g.apartment,
        g.room,
        g.slot_ts,
        coalesce(c.motion_count, 0) AS motion_count,
        coalesce(c.door_open_count, 0) AS door_open_count,
        coalesce(c.window_open_count, 0) AS window_open_count
    FROM grid g
    LEFT JOIN counts c ON c.apartment = g.apartment AND c.room = g.room AND c.slot_ts = g.slot_ts
),

-- The same (apartment, room)'s slot exactly 15 minutes and a day earlier: a window frame of that
-- one instant (NULL when the grid has no such slot). One pass over the slots, where a self-join
-- per lag planned the readings' scan three times.
lagged AS (
    SELECT
        *,
        first_value(motion_count) OVER (PARTITION BY apartment, room ORDER BY slot_ts
            RANGE BETWEEN INTERVAL '15 minutes' PRECEDING AND INTERVAL '15 minutes' PRECEDING) AS motion_count_lag1,
        first_value(door_open_count) OVER (PARTITION BY apartment, room ORDER BY slot_ts
            RANGE BETWEEN INTERVAL '15 minutes' PRECEDING AND INTERVAL '15 minutes' PRECEDING) AS door_open_count_lag1,
        first_value(window_open_count) OVER (PARTITION BY apartment, room ORDER BY slot_ts
            RANGE BETWEEN INTERVAL '15 minutes' PRECEDING AND INTERVAL '15 minutes' PRECEDING) AS window_open_count_lag1,
        first_value(motion_count) OVER (PARTITION BY apartment, room ORDER BY slot_ts
            RANGE BETWEEN INTERVAL '1 day' PRECEDING AND INTERVAL '1 day' PRECEDING) AS motion_count_yesterday
    FROM slots
)

SELECT
    date_key(s.slot_ts) AS date_key,
    s.apartment,
    s.room,
    surrogate_key(s.apartment) AS apartment_key,
    surrogate_key(s.apartment, s.room) AS room_key,
    s.slot_ts,
    s.motion_count > 0 AS occupied,
    CAST(s.motion_count AS INT) AS motion_count,
    CAST(s.door_open_count AS INT) AS door_open_count,
    CAST(s.window_open_count AS INT) AS window_open_count,
    CAST(date_part('hour', s.slot_ts) AS INT) AS hour,
    iso_day_of_week(s.slot_ts) AS day_of_week,
    iso_day_of_week(s.slot_ts) >= 6 AS is_weekend,
    s.motion_count_lag1 > 0 AS occupied_lag1,
    CAST(s.motion_count_lag1 AS INT) AS motion_count_lag1,
    CAST(s.door_open_count_lag1 AS INT) AS door_open_count_lag1,
    CAST(s.window_open_count_lag1 AS INT) AS window_open_count_lag1,
    coalesce(s.motion_count_yesterday, 0) > 0 AS occupied_same_slot_yesterday
FROM lagged s
-- Rows without the previous slot are dropped.
WHERE s.motion_count_lag1 IS NOT NULL
