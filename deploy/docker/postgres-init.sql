-- Databases for docker-compose.yml: one database per service, each owned by its own login role,
-- so a service cannot read another service's tables (ARCHITECTURE.md section 2).
-- Run once by the postgres image's entrypoint, as the superuser, when the data volume is new.
-- Passwords equal the role names: local development only.

CREATE ROLE cpd_entitlement LOGIN PASSWORD 'cpd_entitlement';
CREATE DATABASE cpd_entitlement OWNER cpd_entitlement;

CREATE ROLE cpd_catalogue LOGIN PASSWORD 'cpd_catalogue';
CREATE DATABASE cpd_catalogue OWNER cpd_catalogue;

CREATE ROLE cpd_mentoring LOGIN PASSWORD 'cpd_mentoring';
CREATE DATABASE cpd_mentoring OWNER cpd_mentoring;

CREATE ROLE cpd_reporting LOGIN PASSWORD 'cpd_reporting';
CREATE DATABASE cpd_reporting OWNER cpd_reporting;

-- Only the owning role (and the superuser) may connect to each database.
REVOKE CONNECT, TEMPORARY ON DATABASE cpd_entitlement FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE cpd_catalogue FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE cpd_mentoring FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE cpd_reporting FROM PUBLIC;
