-- gold.dim_room: every (apartment, room) that reported. room_type from reference.room_types
-- (indoor when not listed).
SELECT
    surrogate_key(r.apartment, r.room) AS room_key,
    r.room AS room_name,
    coalesce(t.room_type, 'indoor') AS room_type,
    surrogate_key(r.apartment) AS apartment_key,
    r.apartment AS apartment_id
FROM (SELECT DISTINCT apartment, room FROM silver.device_days) r
LEFT JOIN reference.room_types t ON t.room = r.room
