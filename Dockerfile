# Pledge serving the example apps (docs/deployment.md#container-image).
#
#   docker build -t pledge .
#   docker run --rm -p 8000:8000 -v pledge-data:/var/lib/pledge \
#       -e PLEDGE_BASE_URL=https://pledge.example.com pledge
#
# The container serves plain HTTP on port 8000 for a TLS-terminating proxy in front of it (deploy/nginx.conf), which
# it answers only when PLEDGE_TRUSTED_PROXIES lists the proxy's address (or set PLEDGE_TLS_CERT_FILE/_KEY_FILE to
# serve HTTPS itself); outside development mode Pledge refuses to start without an https PLEDGE_BASE_URL. Several containers share a
# PostgreSQL database (PLEDGE_DATABASE_URL) and one keyring (PLEDGE_KEYRING_PATH, mounted read-only).

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md LICENSE ./
COPY src ./src
# The runtime dependencies at the versions the tests ran with (requirements.lock), nothing of the dev tools.
RUN python -m venv /opt/pledge/venv \
    && /opt/pledge/venv/bin/pip install --no-cache-dir --constraint requirements.lock .

FROM python:3.11-slim-bookworm
RUN useradd --system --home-dir /var/lib/pledge --shell /usr/sbin/nologin pledge \
    && install -d -o pledge -g pledge -m 0700 /var/lib/pledge
COPY --from=build /opt/pledge/venv /opt/pledge/venv
COPY examples /opt/pledge/examples
WORKDIR /opt/pledge
ENV PATH=/opt/pledge/venv/bin:$PATH \
    PYTHONPATH=/opt/pledge \
    PYTHONDONTWRITEBYTECODE=1 \
    PLEDGE_DATA_DIR=/var/lib/pledge \
    PLEDGE_DEV_MODE=false \
    PLEDGE_HOST=0.0.0.0 \
    PLEDGE_PORT=8000 \
    PLEDGE_APPS=examples.issue_mailer.app:app
USER pledge
EXPOSE 8000
VOLUME ["/var/lib/pledge"]
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["pledge", "serve"]
