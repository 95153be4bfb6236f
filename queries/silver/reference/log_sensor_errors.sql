-- silver.log_sensor_errors: the error log of the installation (pidb.dierrors) as it was written,
-- typed; creationDate is the installation's wall-clock time (silver.sensor_errors has it in UTC),
-- kept in microseconds like every lake timestamp.
SELECT
    try_cast(iderror AS BIGINT) AS error_id,
    try_cast(idbuilding AS INT) AS building_id,
    errormessage AS error_message,
    arrow_cast(try_cast(creationdate AS TIMESTAMP), 'Timestamp(Microsecond, None)') AS creation_date
FROM pidb.dierrors
ORDER BY error_id, creation_date
