-- The UTC days the lake has data for: sensor days and forecast target days. Bounds the calendar
-- dimensions so that every date_key and datetime_key of a fact is in them.
SELECT min(first_date) AS first_date, max(last_date) AS last_date
FROM (
    SELECT min(date) AS first_date, max(date) AS last_date FROM silver.device_days
    UNION ALL
    SELECT key_date(min(date_key)), key_date(max(date_key)) FROM gold.fact_weather_hour
) bounds
