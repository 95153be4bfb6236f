-- silver.sensor_errors: one row per logged error (pidb.dierrors) with its apartment (the
-- building's houseName through HOUSE_MAP; NULL for a building no sensor files come from), its
-- time in UTC (creationDate read in SENSOR_TIMEZONE; NULL when it does not parse, the error is
-- kept) and a severity (SPEC §5): high when the message mentions fatal, crash, down or offline,
-- else medium for fail, error, exception or null, else low, ignoring case.
SELECT
    try_cast(e.iderror AS BIGINT) AS error_id,
    try_cast(e.idbuilding AS INT) AS building_id,
    m.apartment,
    sensor_time_utc(try_cast(e.creationdate AS TIMESTAMP)) AS ts,
    e.errormessage AS message,
    CASE
        WHEN regexp_like(e.errormessage, 'fatal|crash|down|offline', 'i') THEN 'high'
        WHEN regexp_like(e.errormessage, 'fail|error|exception|null', 'i') THEN 'medium'
        ELSE 'low'
    END AS severity
FROM pidb.dierrors AS e
LEFT JOIN pidb.buildings AS b ON trim(b.idbuilding) = trim(e.idbuilding)
LEFT JOIN reference.house_map AS m ON lower(m.house) = lower(trim(b.housename))
ORDER BY error_id, ts, message
