-- gold.fact_presence_minute with the occupancy forecasts of `datacycle ml predict` (table
-- `presence_forecast`: apartment, room, slot_ts, probability, one row per forecast slot). Every
-- minute of a forecast slot gets the slot's probability as presence_prob; a minute without a row
-- gets one (nothing observed yet: counts and flags NULL). The result is the whole of the days
-- the forecasts fall on, which replace those days; the rows of other minutes are kept as they
-- are. A later gold build of such a day recomputes it from silver (observations replace
-- forecasts) and the next `ml predict` forecasts again.
WITH minutes AS (
    SELECT
        apartment,
        room,
        probability,
        unnest(generate_series(slot_ts, slot_ts + INTERVAL '14 minutes', INTERVAL '1 minute'))
            AS minute
    FROM presence_forecast
),

forecast AS (
    SELECT
        datetime_key(minute) AS datetime_key,
        surrogate_key(apartment, room) AS room_key,
        date_key(minute) AS date_key,
        surrogate_key(apartment) AS apartment_key,
        probability
    FROM minutes
),

existing AS (
    SELECT *
    FROM gold.fact_presence_minute
    WHERE date_key IN (SELECT DISTINCT date_key FROM forecast)
)

SELECT
    coalesce(e.datetime_key, f.datetime_key) AS datetime_key,
    coalesce(e.room_key, f.room_key) AS room_key,
    coalesce(e.date_key, f.date_key) AS date_key,
    coalesce(e.apartment_key, f.apartment_key) AS apartment_key,
    e.motion_count,
    e.door_open_flag,
    e.presence_flag,
    coalesce(f.probability, e.presence_prob) AS presence_prob
FROM existing e
FULL OUTER JOIN forecast f ON f.datetime_key = e.datetime_key AND f.room_key = e.room_key
