-- gold.dim_device: every device (apartment, room, sensor_type) that reported.
-- is_active: it reported on the latest day its apartment has data for.
WITH devices AS (
    SELECT
        apartment, room, sensor_type,
        min(date) AS first_seen_date,
        max(date) AS last_seen_date
    FROM silver.device_days
    GROUP BY apartment, room, sensor_type
),

latest AS (
    SELECT apartment, max(date) AS latest_date FROM silver.device_days GROUP BY apartment
)

SELECT
    surrogate_key(d.apartment, d.room, d.sensor_type) AS device_key,
    d.apartment || '_' || d.room || '_' || d.sensor_type AS device_id,
    surrogate_key(d.apartment, d.room) AS room_key,
    surrogate_key(d.apartment) AS apartment_key,
    d.apartment AS apartment_id,
    d.room AS room_name,
    d.sensor_type,
    d.first_seen_date,
    d.last_seen_date,
    d.last_seen_date = l.latest_date AS is_active
FROM devices d
JOIN latest l ON l.apartment = d.apartment
