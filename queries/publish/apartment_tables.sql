-- The tables of schema gold that hold per-apartment rows, with the column that says whose
-- (gdpr erase): the apartment's name (`apartment`, `apartment_id`) or its key
-- (`apartment_key`), the first of these a table has. Found in the catalog, so a table added to
-- gold, or kept across publishes by the deployer like the row-level-security maps, is covered.
SELECT c.table_name, min(c.column_name) AS column_name
FROM information_schema.columns AS c
JOIN information_schema.tables AS t
    ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = 'gold'
  AND t.table_type = 'BASE TABLE'
  AND c.column_name IN ('apartment', 'apartment_id', 'apartment_key')
GROUP BY c.table_name
ORDER BY c.table_name
