-- silver.dim_buildings: one row per building of the reference database (pidb.buildings), typed,
-- with its apartment through HOUSE_MAP (houseName is the House of the sensor file names).
-- GDPR: the snapshot holds no personal column (catalog::tables::BUILDINGS_COLUMNS), and the
-- house name is not kept either: it is usually its residents' names (`JimmyLoup`). The
-- apartment id stands for it; gold shows `Building <id>` (docs/lake-schema.md).
SELECT
    try_cast(b.idbuilding AS INT) AS building_id,
    try_cast(b.idbuildingtype AS INT) AS building_type_id,
    m.apartment,
    trim(b.npa) AS npa,
    trim(b.city) AS city,
    try_cast(b.buildingyear AS INT) AS building_year,
    try_cast(b.nbpeople AS INT) AS nb_people,
    CASE
        WHEN lower(trim(b.isheatingon)) IN ('1', 'true', 'yes', 'on') THEN true
        WHEN lower(trim(b.isheatingon)) IN ('0', 'false', 'no', 'off') THEN false
    END AS is_heating_on
FROM pidb.buildings AS b
LEFT JOIN reference.house_map AS m ON lower(m.house) = lower(trim(b.housename))
ORDER BY building_id, apartment
