-- silver.sensor_events: one cleaned reading per (apartment, room, sensor_type, field, ts).
--
-- Input     bronze.sensor_readings (generic JSON leaves; the runner narrows it to the
--           (apartment, date) partitions being recomputed).
-- Reference reference.sensor_fields  (category, key) -> (sensor_type, field, unit)
--           reference.room_map       abbreviated room keys -> room names
--           reference.outlier_bounds inclusive valid range per field
-- Time      ts = payload datetime, or the file-name time when it is missing or unparseable,
--           read as wall-clock time in SENSOR_TIMEZONE (sensor_time_utc) and kept in UTC.
-- Keys      duplicates resolve deterministically: the file whose payload time agrees with its
--           name wins, then the newest file, then the first array item, then the largest value.
WITH readings AS (
    SELECT
        r.source_file,
        r.apartment,
        r.category,
        coalesce(m.room, r.room_raw) AS room,
        r.item,
        r.key,
        r.value_num,
        r.value_text,
        r.file_ts,
        CASE WHEN r.payload_ts IS NULL OR r.payload_ts = r.file_ts THEN 0 ELSE 1 END AS name_disagrees,
        sensor_time_utc(coalesce(r.payload_ts, r.file_ts)) AS ts
    FROM bronze.sensor_readings r
    LEFT JOIN reference.room_map m ON m.room_raw = r.room_raw
    WHERE r.room_raw IS NOT NULL
),

-- Every category except doorsWindows is a plain lookup of (category, key). Numbers written as
-- strings count as numbers; other text in a numeric field is no reading.
plain AS (
    SELECT
        r.apartment, r.room, f.sensor_type, f.field, f.unit,
        coalesce(r.value_num, try_cast(r.value_text AS DOUBLE)) AS value,
        r.ts, r.source_file, r.file_ts, r.name_disagrees, r.item
    FROM readings r
    JOIN reference.sensor_fields f ON f.category = r.category AND f.key = r.key
    WHERE r.category <> 'doorsWindows'
),

-- doorsWindows: one sensor per array item (or the single object). Its `type` names the
-- sensor_type (door when missing); `switch` "on" (or true) is open = 1, anything else 0, and
-- `open` is emitted even when `switch` is missing.
door_window_items AS (
    SELECT
        apartment, room, item, ts, source_file, file_ts, name_disagrees,
        coalesce(lower(max(CASE WHEN key = 'type' THEN value_text END)), 'door') AS sensor_type,
        max(CASE WHEN key = 'switch'
                 THEN CASE WHEN lower(value_text) = 'on' OR value_num = 1 THEN 1.0 ELSE 0.0 END
            END) AS open_value,
        max(CASE WHEN key = 'battery'
                 THEN coalesce(value_num, try_cast(value_text AS DOUBLE))
            END) AS battery
    FROM readings
    WHERE category = 'doorsWindows'
    GROUP BY apartment, room, item, ts, source_file, file_ts, name_disagrees
),
door_window AS (
    SELECT
        i.apartment, i.room, i.sensor_type, f.field, f.unit,
        CASE f.key WHEN 'switch' THEN coalesce(i.open_value, 0.0) ELSE i.battery END AS value,
        i.ts, i.source_file, i.file_ts, i.name_disagrees, i.item
    FROM door_window_items i
    JOIN reference.sensor_fields f ON f.category = 'doorsWindows'
),

candidates AS (
    SELECT * FROM plain WHERE value IS NOT NULL
    UNION ALL
    SELECT * FROM door_window WHERE value IS NOT NULL
),

deduplicated AS (
    SELECT
        apartment, room, sensor_type, field, ts,
        max(unit) AS unit,
        first_value(value ORDER BY name_disagrees, file_ts DESC, item ASC NULLS FIRST, value DESC) AS value,
        first_value(source_file ORDER BY name_disagrees, file_ts DESC, item ASC NULLS FIRST, value DESC) AS source_file
    FROM candidates
    GROUP BY apartment, room, sensor_type, field, ts
)

SELECT
    d.apartment,
    d.room,
    d.sensor_type,
    d.field,
    d.value,
    d.unit,
    d.ts,
    coalesce(d.value < b.min_value OR d.value > b.max_value, false) AS is_outlier,
    d.source_file,
    CAST(d.ts AS DATE) AS date
FROM deduplicated d
LEFT JOIN reference.outlier_bounds b ON b.field = d.field
