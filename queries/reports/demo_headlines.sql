-- Headline numbers per apartment, printed at the end of `datacycle demo`.
--   meter_kwh / meter_chf  whole-apartment consumption from the meter (valid minutes)
--   plugs_kwh              consumption of the plugged appliances (part of the meter's)
--   indoor_co2_ppm         mean CO2 of indoor rooms, anomalies excluded
--   occupancy_pct          minutes with motion in any room / minutes with a presence reading
WITH energy AS (
    SELECT
        r.apartment_key,
        sum(CASE WHEN r.room_type = 'meter' THEN f.energy_kwh END) AS meter_kwh,
        sum(CASE WHEN r.room_type = 'meter' THEN f.cost_chf END) AS meter_chf,
        sum(CASE WHEN r.room_type <> 'meter' THEN f.energy_kwh END) AS plugs_kwh
    FROM gold.fact_energy_minute f
    JOIN gold.dim_room r ON r.room_key = f.room_key
    WHERE f.is_valid
    GROUP BY r.apartment_key
),

climate AS (
    SELECT r.apartment_key, avg(e.co2_ppm) AS indoor_co2_ppm
    FROM gold.fact_environment_minute e
    JOIN gold.dim_room r ON r.room_key = e.room_key
    WHERE r.room_type = 'indoor' AND NOT e.is_anomaly
    GROUP BY r.apartment_key
),

occupied_minutes AS (
    SELECT apartment_key, datetime_key, bool_or(presence_flag) AS occupied
    FROM gold.fact_presence_minute
    GROUP BY apartment_key, datetime_key
),

occupancy AS (
    SELECT apartment_key, avg(CASE WHEN occupied THEN 100.0 ELSE 0.0 END) AS occupancy_pct
    FROM occupied_minutes
    GROUP BY apartment_key
)

SELECT
    a.apartment_id AS apartment,
    round(e.meter_kwh, 1) AS meter_kwh,
    round(e.meter_chf, 2) AS meter_chf,
    round(e.plugs_kwh, 1) AS plugs_kwh,
    round(c.indoor_co2_ppm, 0) AS indoor_co2_ppm,
    round(o.occupancy_pct, 1) AS occupancy_pct
FROM gold.dim_apartment a
LEFT JOIN energy e ON e.apartment_key = a.apartment_key
LEFT JOIN climate c ON c.apartment_key = a.apartment_key
LEFT JOIN occupancy o ON o.apartment_key = a.apartment_key
ORDER BY a.apartment_id
