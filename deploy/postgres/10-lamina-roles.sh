#!/bin/sh
# Run once by the postgres image when it creates the cluster (docker-entrypoint-initdb.d).
# Two roles, neither a superuser (see the README, "Database roles"):
#   lamina_owner  owns the database and every table; only `migrate` connects as it.
#   lamina_app    the web servers and workers; it owns nothing, so it cannot disable the audit
#                 trail's triggers. `manage.py grant_app_role lamina_app` grants its tables after
#                 every migrate.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_password="$LAMINA_OWNER_PASSWORD" -v app_password="$LAMINA_APP_PASSWORD" <<'SQL'
CREATE ROLE lamina_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE lamina_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
ALTER DATABASE :"DBNAME" OWNER TO lamina_owner;
ALTER SCHEMA public OWNER TO lamina_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME" TO lamina_app;
GRANT USAGE ON SCHEMA public TO lamina_app;
SQL
