-- The column `timestamp_utc` of a published table that has a `datetime_key` but no time column
-- of its own (the minute facts, the weather hours): the UTC minute of the key, computed by
-- PostgreSQL as rows are copied in (whole tables and replaced days alike) and indexed, so
-- Power BI's incremental refresh can filter `RangeStart <= timestamp_utc < RangeEnd` and fold
-- it into an index range scan. `timestamp` without time zone: Power BI reads `timestamptz` as
-- Date/Time/Timezone, which its Date/Time parameters RangeStart and RangeEnd cannot be compared
-- with without a conversion that may not fold.
timestamp_utc timestamp GENERATED ALWAYS AS (make_timestamp(
    CAST(datetime_key / 100000000 AS int),
    CAST(datetime_key / 1000000 % 100 AS int),
    CAST(datetime_key / 10000 % 100 AS int),
    CAST(datetime_key / 100 % 100 AS int),
    CAST(datetime_key % 100 AS int),
    0
)) STORED
