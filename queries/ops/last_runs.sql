-- The latest run of every (command, step) in _ops.runs, for `datacycle status`.
WITH ranked AS (
    SELECT
        command, step, started_at, seconds, outcome, error,
        row_number() OVER (PARTITION BY command, step ORDER BY started_at DESC, run_id) AS rank
    FROM _ops.runs
)

SELECT command, step, started_at, seconds, outcome, error
FROM ranked
WHERE rank = 1
ORDER BY command, step
