-- silver.dim_rooms: the rooms of each building (pidb.rooms) with surface, orientation and the
-- number of windows, doors and sensors.
SELECT
    try_cast(idroom AS INT) AS room_id,
    try_cast(idbuilding AS INT) AS building_id,
    trim(name) AS name,
    try_cast(surfacem2 AS DOUBLE) AS surface_m2,
    trim(orientation) AS orientation,
    try_cast(nbwindows AS INT) AS nb_windows,
    try_cast(nbdoors AS INT) AS nb_doors,
    try_cast(nbsensors AS INT) AS nb_sensors
FROM pidb.rooms
ORDER BY room_id, name
