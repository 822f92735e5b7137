# The MLflow tracking server of infra/docker-compose.yml: the official image plus the PostgreSQL
# driver (backend store) and boto3 (S3 artifact store). Same MLflow version as requirements.lock.
FROM ghcr.io/mlflow/mlflow:v3.17.2
# psycopg 3: SQLAlchemy 2.1 resolves a plain postgresql:// URI to it (psycopg2 alone fails at start-up).
RUN pip install --no-cache-dir "psycopg[binary]>=3.1" boto3
