-- One database per service (DESIGN.md: "one database per service").
-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d), as the
-- POSTGRES_USER set in docker-compose.yml, so that user owns every database created here.
-- Each service creates its own tables with Alembic at start.
CREATE DATABASE meal_order;
CREATE DATABASE meal_pricing;
CREATE DATABASE meal_kitchen;
CREATE DATABASE meal_delivery;
