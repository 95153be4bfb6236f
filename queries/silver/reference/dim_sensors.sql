-- silver.dim_sensors: the installed sensors (pidb.sensors): room, IP address and type.
SELECT
    try_cast(idsensor AS INT) AS sensor_id,
    try_cast(idroom AS INT) AS room_id,
    trim(ipaddress) AS ip_address,
    trim(type) AS sensor_type
FROM pidb.sensors
ORDER BY sensor_id, ip_address
