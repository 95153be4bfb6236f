-- silver.dim_devices: the appliances per room (pidb.devices) with their nominal power in W.
SELECT
    try_cast(iddevice AS INT) AS device_id,
    try_cast(idroom AS INT) AS room_id,
    trim(name) AS name,
    trim(type) AS device_type,
    try_cast(nominalpowerw AS DOUBLE) AS nominal_power_w
FROM pidb.devices
ORDER BY device_id, name
