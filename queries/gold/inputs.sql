-- Optional inputs of gold, declared with the columns gold reads: a lake without sensor data,
-- without a reference database or without weather still builds every other gold table. Each
-- statement only creates an empty stand-in, for this run, when the lake has no such table.
CREATE TABLE IF NOT EXISTS silver.device_days (
    apartment VARCHAR, room VARCHAR, sensor_type VARCHAR, date DATE
);
CREATE TABLE IF NOT EXISTS silver.dim_buildings (building_id INT, apartment VARCHAR);
CREATE TABLE IF NOT EXISTS silver.sensor_errors (apartment VARCHAR, ts TIMESTAMP);
CREATE TABLE IF NOT EXISTS gold.fact_weather_hour (
    datetime_key BIGINT, site_key BIGINT, prediction_date DATE, date_key INT,
    temperature_c DOUBLE, humidity_pct DOUBLE, precipitation_mm DOUBLE, radiation_wm2 DOUBLE,
    n_model_runs INT
);
-- The ML energy features read the best forecasts, which a lake without weather never writes.
CREATE TABLE IF NOT EXISTS gold.weather_best_forecast (
    datetime_key BIGINT, site_key BIGINT, date_key INT, prediction_date DATE,
    temperature_c DOUBLE, humidity_pct DOUBLE, precipitation_mm DOUBLE, radiation_wm2 DOUBLE,
    n_model_runs INT
)
