-- Staging lives in its own schema that no reader may use: a publish killed after staging leaves
-- tables without row-level security there, and only there. Every publish starts by emptying it
-- (publishes are serialised by an advisory lock) and drops it again when it fails.
DROP SCHEMA IF EXISTS gold_staging CASCADE;
CREATE SCHEMA gold_staging;
REVOKE ALL ON SCHEMA gold_staging FROM PUBLIC;

-- Earlier versions staged as gold._stage_<table>, where readers could see them.
DO $$
DECLARE stage text;
BEGIN
    FOR stage IN SELECT tablename FROM pg_tables
                 WHERE schemaname = 'gold' AND tablename LIKE '\_stage\_%' LOOP
        EXECUTE format('DROP TABLE gold.%I CASCADE', stage);
    END LOOP;
END $$;
