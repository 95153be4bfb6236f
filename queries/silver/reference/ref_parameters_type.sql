-- silver.ref_parameters_type: the parameter type lookup (pidb.parameterstype) with its unit.
SELECT
    try_cast(idparametertype AS INT) AS parameter_type_id,
    trim(name) AS name,
    trim(unit) AS unit
FROM pidb.parameterstype
ORDER BY parameter_type_id, name
