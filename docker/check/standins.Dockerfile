# Stand-ins for the postgres, redis and minio images of docker-compose.yml, for a machine that reaches
# no image registry (make deploy-check): Debian's PostgreSQL and Redis, and moto's S3 server from PyPI.
# Same interfaces as the images they replace: POSTGRES_* variables, redis-server, S3 on port 9000.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS postgres
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* && install -d -o postgres /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY docker/check/postgres-entrypoint.sh /usr/local/bin/
# A fast shutdown, as the official image does: `docker restart` must not wait for idle clients.
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres-entrypoint.sh"]

FROM ${BASE_IMAGE} AS redis
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/* \
    && mkdir /data
WORKDIR /data
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]

# The first two steps are docker/Dockerfile's, so the builder reuses them.
FROM ${BASE_IMAGE} AS s3
COPY docker/certs/ /usr/local/share/ca-certificates/
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
    && update-ca-certificates && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_NO_CACHE_DIR=1
RUN pip install 'moto[server]>=5,<6'
EXPOSE 9000
CMD ["moto_server", "-H", "0.0.0.0", "-p", "9000"]
