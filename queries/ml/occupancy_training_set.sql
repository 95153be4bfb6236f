-- The occupancy training set, read by `datacycle ml`: the key (apartment, room, slot_ts), the
-- target, the two baselines' predictions, then every model feature as DOUBLE (each column after
-- `baseline_last_slot` is a feature, named by its column). One-hot apartment and room columns
-- are added from the key when a model is trained. Chronological order: the split is by time.
SELECT
    apartment,
    room,
    slot_ts,
    CAST(occupied AS DOUBLE) AS target,
    CAST(occupied_same_slot_yesterday AS DOUBLE) AS baseline_same_slot_yesterday,
    CAST(occupied_lag1 AS DOUBLE) AS baseline_last_slot,
    CAST(hour AS DOUBLE) AS hour,
    CAST(day_of_week AS DOUBLE) AS day_of_week,
    CAST(is_weekend AS DOUBLE) AS is_weekend,
    CAST(occupied_lag1 AS DOUBLE) AS occupied_lag1,
    CAST(motion_count_lag1 AS DOUBLE) AS motion_count_lag1,
    CAST(door_open_count_lag1 AS DOUBLE) AS door_open_count_lag1,
    CAST(window_open_count_lag1 AS DOUBLE) AS window_open_count_lag1
FROM gold.ml_occupancy_features
ORDER BY slot_ts, apartment, room
