-- Row-level security of one apartment-scoped gold table ({table}: its quoted name), applied by
-- every publish. A role sees the apartments gold.user_apartment_map grants to it or to a role it
-- is a member of; the table owner (the app role) is not subject to it.
ALTER TABLE gold.{table} ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS apartment_readers ON gold.{table};
CREATE POLICY apartment_readers ON gold.{table} FOR SELECT USING (
    apartment_key IN (
        SELECT m.apartment_key FROM gold.user_apartment_map m
        JOIN pg_roles r ON r.rolname = m.role_name
        WHERE pg_has_role(current_user, r.oid, 'MEMBER')));
