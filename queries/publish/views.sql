-- Compatibility views of the PostgreSQL serving layer, recreated by every publish. They run
-- with the reader's rights (security_invoker), so row-level security applies through them.

-- gold.mv_energy_with_cost: the original dashboards' energy view, one row per device and minute
-- with its time, room and apartment; energy_kwh is the energy of that minute (the original
-- summed a cumulative counter here).
CREATE OR REPLACE VIEW gold.mv_energy_with_cost WITH (security_invoker = true) AS
SELECT
    f.datetime_key, f.date_key, t.timestamp_utc, t.local_timestamp, t.local_date,
    a.apartment_id AS apartment, r.room_name AS room, r.room_type, d.device_id, d.sensor_type,
    f.power_w, f.counter_total_wh, f.energy_wh, f.energy_kwh, f.cost_chf, f.energy_flag,
    f.is_valid, f.apartment_key, f.room_key, f.device_key
FROM gold.fact_energy_minute f
JOIN gold.dim_datetime t ON t.datetime_key = f.datetime_key
JOIN gold.dim_device d ON d.device_key = f.device_key
JOIN gold.dim_room r ON r.room_key = f.room_key
JOIN gold.dim_apartment a ON a.apartment_key = f.apartment_key; COMMENT ON VIEW gold.mv_energy_with_cost IS 'Energy per device and minute with time, room and apartment (compatibility view of the original dashboards; energy_kwh is per minute, sum it freely)';
