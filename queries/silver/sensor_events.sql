-- silver.sensor_events: one cleaned reading per (apartment, room, sensor_type, field, ts).
--
-- Input     bronze.sensor_readings (generic JSON leaves; the runner narrows it to the
--           (apartment, date) partitions being recomputed).
-- Reference reference.sensor_fields  (category, key) -> (sensor_type, field, unit); a field
--                                    has one unit
--           reference.room_map       abbreviated room keys -> room names
--           reference.outlier_bounds inclusive valid range per field
-- Time      ts = payload datetime, or the file-name time when it is missing or unparseable,
--           read as wall-clock time in SENSOR_TIMEZONE (sensor_time_utc) and kept in UTC.
-- Keys      duplicates resolve deterministically: the file whose payload time agrees with its
--           name wins, then the newest file, then the first array item (`priority` encodes the
--           three, in that order), then the largest value (max_by's tie rule).
WITH fields AS (
    -- Leaves the field map knows; everything else stays in bronze.
    SELECT
        r.source_file, arrow_cast(r.apartment, 'Utf8View') AS apartment, r.category, r.room_raw, r.item, r.key, r.value_num,
        r.value_text, r.file_ts, r.payload_ts, f.sensor_type, f.field, f.unit
    FROM bronze.sensor_readings r
    JOIN reference.sensor_fields f ON f.category = r.category AND f.key = r.key
    WHERE r.room_raw IS NOT NULL
),

readings AS (
    SELECT
        f.*,
        sensor_time_utc(coalesce(f.payload_ts, f.file_ts)) AS ts,
        -- agrees with its name (1 bit) | file minute (30 bits) | 511 - array position (9 bits)
        CASE WHEN f.payload_ts IS NULL OR f.payload_ts = f.file_ts THEN 549755813888 ELSE 0 END
          + arrow_cast(f.file_ts, 'Int64') / 60000000 * 512
          + 511 - least(coalesce(f.item + 1, 0), 511) AS priority
    FROM fields f
),

-- Every category except doorsWindows is a plain lookup. Numbers written as strings count as
-- numbers; other text in a numeric field is no reading.
plain AS (
    SELECT
        apartment, room_raw, sensor_type, field, unit,
        coalesce(value_num, try_cast(value_text AS DOUBLE)) AS value,
        ts, source_file, priority
    FROM readings
    WHERE category <> 'doorsWindows'
),

-- doorsWindows: one sensor per array item (or the single object). Its `type` names the
-- sensor_type (door when missing); `switch` "on" (or true) is open = 1, anything else 0, and
-- `open` is emitted even when `switch` is missing.
door_window_leaves AS (
    SELECT
        r.source_file, arrow_cast(r.apartment, 'Utf8View') AS apartment, r.room_raw, r.item, r.key,
        r.value_num, r.value_text, r.file_ts, r.payload_ts
    FROM bronze.sensor_readings r
    WHERE r.category = 'doorsWindows' AND r.room_raw IS NOT NULL
),
door_window_items AS (
    SELECT
        apartment, room_raw, item, source_file, file_ts, payload_ts,
        coalesce(lower(max(CASE WHEN key = 'type' THEN value_text END)), 'door') AS sensor_type,
        max(CASE WHEN key = 'switch'
                 THEN CASE WHEN lower(value_text) = 'on' OR value_num = 1 THEN 1.0 ELSE 0.0 END
            END) AS open_value,
        max(CASE WHEN key = 'battery'
                 THEN coalesce(value_num, try_cast(value_text AS DOUBLE))
            END) AS battery
    FROM door_window_leaves
    GROUP BY apartment, room_raw, item, source_file, file_ts, payload_ts
),
door_window AS (
    SELECT
        i.apartment, i.room_raw, i.sensor_type, f.field, f.unit,
        CASE f.key WHEN 'switch' THEN coalesce(i.open_value, 0.0) ELSE i.battery END AS value,
        sensor_time_utc(coalesce(i.payload_ts, i.file_ts)) AS ts,
        i.source_file,
        CASE WHEN i.payload_ts IS NULL OR i.payload_ts = i.file_ts THEN 549755813888 ELSE 0 END
          + arrow_cast(i.file_ts, 'Int64') / 60000000 * 512
          + 511 - least(coalesce(i.item + 1, 0), 511) AS priority
    FROM door_window_items i
    JOIN reference.sensor_fields f ON f.category = 'doorsWindows'
),

candidates AS (
    SELECT c.*, coalesce(m.room, c.room_raw) AS room
    FROM (
        SELECT * FROM plain WHERE value IS NOT NULL
        UNION ALL
        SELECT * FROM door_window WHERE value IS NOT NULL
    ) c
    LEFT JOIN reference.room_map m ON m.room_raw = c.room_raw
),

deduplicated AS (
    SELECT
        apartment, room, sensor_type, field, ts,
        max_by(value, priority) AS value,
        max_by(source_file, priority) AS source_file
    FROM candidates
    GROUP BY apartment, room, sensor_type, field, ts
),

units AS (
    SELECT field, max(unit) AS unit FROM reference.sensor_fields GROUP BY field
)

SELECT
    d.apartment,
    d.room,
    d.sensor_type,
    d.field,
    d.value,
    u.unit,
    d.ts,
    coalesce(d.value < b.min_value OR d.value > b.max_value, false) AS is_outlier,
    d.source_file,
    utc_date(d.ts) AS date
FROM deduplicated d
JOIN units u ON u.field = d.field
LEFT JOIN reference.outlier_bounds b ON b.field = d.field
