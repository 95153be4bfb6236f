-- silver.ref_parameters: threshold settings per building (pidb.parameters); the value stays text
-- because its type depends on the parameter type.
SELECT
    try_cast(idparameter AS INT) AS parameter_id,
    try_cast(idbuilding AS INT) AS building_id,
    try_cast(idparametertype AS INT) AS parameter_type_id,
    trim(value) AS value
FROM pidb.parameters
ORDER BY parameter_id, building_id
