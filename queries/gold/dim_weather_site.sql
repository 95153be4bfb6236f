-- gold.dim_weather_site: the forecast sites of WEATHER_SITES (default Sion).
SELECT
    surrogate_key(site_name) AS site_key,
    site_name
FROM reference.weather_sites
