-- silver.ref_energy_profiles: reference consumption per appliance type in kWh per year
-- (pidb.profilereference).
SELECT
    try_cast(idprofilereference AS INT) AS profile_reference_id,
    trim(appliancetype) AS appliance_type,
    try_cast(kwhperyear AS DOUBLE) AS kwh_per_year
FROM pidb.profilereference
ORDER BY profile_reference_id, appliance_type
