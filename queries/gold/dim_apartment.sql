-- gold.dim_apartment: every apartment of the house map or of the sensor data.
-- Masked: building_name is `Building <id>`, owner_user_id is NULL; the house name of the
-- reference database is not read. weather_site_key is the first site of WEATHER_SITES.
WITH apartments AS (
    SELECT DISTINCT apartment FROM silver.device_days
    UNION
    SELECT apartment FROM reference.house_map
),

buildings AS (
    SELECT apartment, min(building_id) AS building_id
    FROM silver.dim_buildings
    WHERE apartment IS NOT NULL
    GROUP BY apartment
),

home_site AS (
    SELECT surrogate_key(site_name) AS site_key FROM reference.weather_sites WHERE position = '1'
)

SELECT
    surrogate_key(a.apartment) AS apartment_key,
    a.apartment AS apartment_id,
    a.apartment AS name,
    b.building_id,
    'Building ' || CAST(b.building_id AS VARCHAR) AS building_name,
    CAST(NULL AS BIGINT) AS owner_user_id,
    CAST(NULL AS INT) AS floor,
    (SELECT site_key FROM home_site) AS weather_site_key
FROM apartments a
LEFT JOIN buildings b ON b.apartment = a.apartment
