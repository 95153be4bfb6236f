-- Which table of schema gold references which (gdpr erase deletes the referencing rows first).
SELECT src.relname AS referencing, dst.relname AS referenced
FROM pg_constraint AS k
JOIN pg_class AS src ON src.oid = k.conrelid
JOIN pg_class AS dst ON dst.oid = k.confrelid
WHERE k.contype = 'f'
  AND k.connamespace = 'gold'::regnamespace
  AND src.oid <> dst.oid
