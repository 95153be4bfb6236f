-- Objects of the app role that every publish relies on, created if missing (pg init and the
-- start of every publish run this whole file). Outside the publish transaction, so nothing here
-- takes a lock when there is nothing to change: readers hold the map while they query.

-- Row-level security: a role (or its members) reads the rows of these apartments. The map is
-- protected by the same rule, so a reader learns no other reader's apartments.
CREATE TABLE IF NOT EXISTS gold.user_apartment_map (
    role_name text NOT NULL,
    apartment_key bigint NOT NULL,
    PRIMARY KEY (role_name, apartment_key)
);
DO $$
BEGIN
    IF NOT (SELECT relrowsecurity FROM pg_class WHERE oid = 'gold.user_apartment_map'::regclass) THEN
        ALTER TABLE gold.user_apartment_map ENABLE ROW LEVEL SECURITY;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'gold'
                   AND tablename = 'user_apartment_map' AND policyname = 'own_rows') THEN
        CREATE POLICY own_rows ON gold.user_apartment_map FOR SELECT USING (
            EXISTS (SELECT 1 FROM pg_roles r
                    WHERE r.rolname = role_name AND pg_has_role(current_user, r.oid, 'MEMBER')));
    END IF;
    -- Earlier versions granted the map to everybody; readers get it table by table now.
    IF EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a
               WHERE c.oid = 'gold.user_apartment_map'::regclass AND a.grantee = 0) THEN
        REVOKE ALL ON gold.user_apartment_map FROM PUBLIC;
    END IF;
END $$;

-- Power BI's dynamic row-level security: a user principal name (the sign-in name
-- USERPRINCIPALNAME() returns in Power BI, usually an e-mail address) sees these apartments.
-- Filled by the deployer, never by publish; readers see the rows of their own apartments
-- (apartment_policy.sql). docs/power-bi.md.
CREATE TABLE IF NOT EXISTS gold.user_principal_apartment_map (
    user_principal_name text NOT NULL,
    apartment_key bigint NOT NULL,
    PRIMARY KEY (user_principal_name, apartment_key)
);

-- The lake version of every published table.
CREATE TABLE IF NOT EXISTS gold._datacycle_published (
    table_name text PRIMARY KEY,
    lake_version bigint NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
