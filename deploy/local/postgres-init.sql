-- Run once by the postgres:15 image on an empty volume (docker-compose.yml mounts it into
-- /docker-entrypoint-initdb.d). The role crm is the image's POSTGRES_USER, a superuser.
-- deploy/local/infra.sh creates the same databases when it runs PostgreSQL without Docker.
CREATE DATABASE order_sync OWNER crm;
CREATE DATABASE customer_profile OWNER crm;
CREATE DATABASE campaign OWNER crm;
CREATE DATABASE analytics OWNER crm;
