-- The energy training set, read by `datacycle ml`: the key (apartment, room, slot_ts), the
-- target (mean power in W), the two baselines' predictions, then every model feature as DOUBLE
-- (each column after `baseline_last_slot` is a feature, named by its column). One-hot apartment
-- and room columns are added from the key when a model is trained. Chronological order.
SELECT
    apartment,
    room,
    slot_ts,
    power_w AS target,
    power_w_lag96 AS baseline_same_slot_yesterday,
    power_w_lag1 AS baseline_last_slot,
    CAST(hour AS DOUBLE) AS hour,
    CAST(day_of_week AS DOUBLE) AS day_of_week,
    CAST(month AS DOUBLE) AS month,
    CAST(is_weekend AS DOUBLE) AS is_weekend,
    power_w_lag1,
    power_w_lag4,
    power_w_lag96,
    power_w_lag672,
    temperature_c,
    humidity_pct,
    precipitation_mm,
    radiation_wm2
FROM gold.ml_energy_features
ORDER BY slot_ts, apartment, room
