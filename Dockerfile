# syntax=docker/dockerfile:1
# The portal image: `docker build -t portal .` (compose/docker-compose.yml builds
# it; deploy/kubernetes runs it as the web tier, the worker and the migration Job).
#
# Stage 1 fetches the front-end assets from npm (htmx.org@2) the same way
# `make assets` does; stage 2 installs the Python dependencies into a virtual
# environment; stage 3 is the runtime: that environment, the application, no
# compiler, no pip cache, user 10001. Nothing secret is baked in: every setting
# comes from the environment at run time (DESIGN.md section 4). The root file
# system may be mounted read-only (Kubernetes): bytecode is compiled at build
# time and gunicorn keeps its heartbeat files in /dev/shm (gunicorn.conf.py).

FROM node:22.20.0-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
# Only the runtime dependency (htmx.org); the test-only OIDC provider stays out.
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
 && mkdir -p /build/vendor \
 && cp node_modules/htmx.org/dist/htmx.min.js /build/vendor/htmx.min.js

FROM python:3.11.13-slim-bookworm AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY portal/__init__.py portal/__init__.py
# A local path, not a registry package: versions come from pyproject.toml.
# The portal itself is run from /app (PYTHONPATH), so only its dependencies stay.
# hadolint ignore=DL3013
RUN pip install ".[postgres]" \
 && pip uninstall -y portal

FROM python:3.11.13-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv

# The application. It is run from /app (PYTHONPATH), because create_app()
# finds templates/, static/ and migrations/ next to the package.
COPY wsgi.py gunicorn.conf.py ./
COPY portal/ portal/
COPY templates/ templates/
COPY static/ static/
COPY migrations/ migrations/
COPY --from=assets /build/vendor/ static/vendor/

RUN python -m compileall -q /app/portal /app/migrations /app/wsgi.py \
 && groupadd --system --gid 10001 portal \
 && useradd --system --uid 10001 --gid portal --home-dir /app --shell /usr/sbin/nologin portal \
 && mkdir -p /app/instance \
 && chown portal:portal /app/instance
USER 10001:10001

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
# The web tier; the worker runs `flask --app wsgi portal worker`, the migration `flask --app wsgi db upgrade`.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
