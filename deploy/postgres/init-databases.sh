#!/bin/sh
# First start of the PostgreSQL volume: the metadata database (POSTGRES_DB) exists; add MLflow's
# tracking store and Airflow's metadata database beside it, owned by the same role.
set -eu
for db in mlflow airflow; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "CREATE DATABASE $db OWNER \"$POSTGRES_USER\""
done
