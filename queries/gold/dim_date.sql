-- gold.dim_date: one row per day of every calendar year the lake has data in.
-- is_holiday: public holidays of canton Valais (reference.holidays, 2023-2030 built in).
WITH days AS (
    SELECT unnest(generate_series(
        make_date(date_part('year', first_date), 1, 1),
        make_date(date_part('year', last_date), 12, 31),
        INTERVAL '1 day'
    )) AS date
    FROM query_file('gold/data_range.sql')
    WHERE first_date IS NOT NULL
)

SELECT
    date_key(d.date) AS date_key,
    d.date,
    to_char(d.date, '%A') AS day_of_week,
    CAST(to_char(d.date, '%u') AS INT) AS day_of_week_number,
    CAST(date_part('week', d.date) AS INT) AS iso_week,
    CAST(date_part('month', d.date) AS INT) AS month,
    to_char(d.date, '%B') AS month_name,
    CAST(date_part('quarter', d.date) AS INT) AS quarter,
    CAST(date_part('year', d.date) AS INT) AS year,
    CAST(to_char(d.date, '%u') AS INT) >= 6 AS is_weekend,
    h.name IS NOT NULL AS is_holiday,
    h.name AS holiday_name
FROM days d
LEFT JOIN reference.holidays h ON CAST(h.date AS DATE) = d.date
