# The MLflow tracking server of infra/docker-compose.yml: the official image plus the PostgreSQL
# driver (backend store) and boto3 (S3 artifact store). Same MLflow version as requirements.lock.
FROM ghcr.io/mlflow/mlflow:v3.17.2
RUN pip install --no-cache-dir psycopg2-binary boto3
