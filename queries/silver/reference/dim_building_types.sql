-- silver.dim_building_types: the building type lookup (pidb.buildingtype: Maison, Appartement).
SELECT
    try_cast(idbuildingtype AS INT) AS building_type_id,
    trim(name) AS name
FROM pidb.buildingtype
ORDER BY building_type_id, name
