# The web image: Django, gunicorn, the participant front end. No torch (architecture.md).
FROM node:20-bookworm-slim AS frontend
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 IRIS_VAR_DIR=/var/lib/iris
WORKDIR /app
COPY pyproject.toml README.md ./
COPY surveys surveys
COPY iri_engine iri_engine
RUN pip install --no-cache-dir '.[web]'
COPY manage.py ./
COPY templates templates
COPY static static
COPY --from=frontend /src/node_modules node_modules
RUN DJANGO_SECRET_KEY=build-only IRIS_STATIC_FROM_FINDERS=false python manage.py collectstatic --noinput -v0
RUN useradd --system --uid 1000 iris && mkdir -p /var/lib/iris && chown iris /var/lib/iris
USER iris
EXPOSE 8000
CMD ["gunicorn", "surveys.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
