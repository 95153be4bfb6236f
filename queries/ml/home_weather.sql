-- The weather of the home site (the first of WEATHER_SITES) per target hour, as a model may know
-- it: gold.weather_best_forecast holds only forecasts issued strictly before the hour's date (the
-- anti-leakage rule). Hours with a measure missing are left out. Read by ml_energy_features.sql
-- and by `datacycle ml predict` for the hours it forecasts.
WITH home_site AS (
    SELECT surrogate_key(site_name) AS site_key FROM reference.weather_sites WHERE position = '1'
)

SELECT w.datetime_key, w.temperature_c, w.humidity_pct, w.precipitation_mm, w.radiation_wm2
FROM gold.weather_best_forecast w
JOIN home_site h ON h.site_key = w.site_key
WHERE w.temperature_c IS NOT NULL AND w.humidity_pct IS NOT NULL
  AND w.precipitation_mm IS NOT NULL AND w.radiation_wm2 IS NOT NULL
