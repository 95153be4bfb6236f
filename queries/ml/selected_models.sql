-- The model selected by each target's most recent benchmark (read by `datacycle ml predict`).
WITH latest AS (
    SELECT
        target, model, run_id,
        row_number() OVER (PARTITION BY target ORDER BY benchmarked_at DESC, run_id) AS rank
    FROM gold.ml_benchmark
    WHERE selected
)

SELECT target, model, run_id FROM latest WHERE rank = 1 ORDER BY target
