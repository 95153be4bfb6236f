-- gold.dim_tariff: electricity price per provider and year (reference.tariffs; the built-in
-- default is OIKEN 0.34 CHF/kWh for 2023-2026, override with REFERENCE_DIR/tariffs.csv).
SELECT
    provider,
    CAST(year AS INT) AS year,
    CAST(chf_per_kwh AS DOUBLE) AS chf_per_kwh
FROM reference.tariffs
