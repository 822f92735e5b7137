-- Run once by the postgres image on an empty data volume: POSTGRES_DB creates the MLflow database,
-- this the Prefect server's.
CREATE DATABASE prefect OWNER sigma;
