-- gold.dim_datetime: one row per UTC minute of the days the lake has data for. Keys are UTC;
-- the local_* columns are the same instant in REPORTING_TIMEZONE (datacycle.reporting_timezone),
-- so a DST day has 23 or 25 local hours and a local hour may occur twice.
WITH minutes AS (
    SELECT unnest(generate_series(
        CAST(first_date AS TIMESTAMP),
        CAST(last_date AS TIMESTAMP) + INTERVAL '1 day' - INTERVAL '1 minute',
        INTERVAL '1 minute'
    )) AS ts
    FROM query_file('gold/data_range.sql')
    WHERE first_date IS NOT NULL
),

instants AS (
    SELECT
        arrow_cast(ts, 'Timestamp(Microsecond, Some("UTC"))') AS timestamp_utc,
        ts,
        reporting_time(arrow_cast(ts, 'Timestamp(Microsecond, Some("UTC"))')) AS local_ts
    FROM minutes
)

SELECT
    datetime_key(timestamp_utc) AS datetime_key,
    timestamp_utc,
    date_key(timestamp_utc) AS date_key,
    CAST(date_part('hour', ts) AS INT) AS hour,
    CAST(date_part('minute', ts) AS INT) AS minute,
    to_char(ts, '%A') AS day_of_week,
    CAST(date_part('week', ts) AS INT) AS week,
    CAST(date_part('month', ts) AS INT) AS month,
    CAST(date_part('year', ts) AS INT) AS year,
    CAST(to_char(ts, '%u') AS INT) >= 6 AS is_weekend,
    local_ts AS local_timestamp,
    CAST(local_ts AS DATE) AS local_date,
    date_key(CAST(local_ts AS DATE)) AS local_date_key,
    CAST(date_part('hour', local_ts) AS INT) AS local_hour,
    CAST(date_part('minute', local_ts) AS INT) AS local_minute,
    to_char(local_ts, '%A') AS local_day_of_week,
    CAST(to_char(local_ts, '%u') AS INT) >= 6 AS local_is_weekend
FROM instants
