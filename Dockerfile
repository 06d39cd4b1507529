# privacy-gateway container image.
#
#   docker build -t privacy-gateway .
#   docker run --rm -p 8080:8080 -p 127.0.0.1:9100:9100 --stop-timeout 40 \
#     -v "$PWD/my-policy:/etc/privacy-gateway:ro" privacy-gateway
#
# The default policy directory is /etc/privacy-gateway (see CMD), empty in the
# image: mount your policy there, a directory or a Kubernetes ConfigMap (every
# *.yaml in it is merged in name order). Inside a container the policy must
# bind the listeners to 0.0.0.0 (listen.host and admin.host), or nothing
# outside the container reaches them; publish the admin port to trusted
# networks only. The image carries the example policy at
# /usr/share/privacy-gateway/example-site.yaml (checked while building):
#   docker run --rm privacy-gateway check /usr/share/privacy-gateway/example-site.yaml
# The HEALTHCHECK below expects the admin listener on port 9100.
# Docker's default stop timeout (10s) is shorter than the gateway's drain
# timeout (limits.drain_timeout, 30s by default): pass --stop-timeout.

# Pinned to an exact release, the Python minor version the tests run on. To
# pin the bytes too, append the digest the registry gives for this tag
# (docker buildx imagetools inspect python:3.11.16-slim-bookworm):
#   --build-arg PYTHON_IMAGE=python:3.11.16-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11.16-slim-bookworm

# --- build: install the package and its dependencies into a virtualenv -------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/privacy-gateway

WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
# [speed] adds uvloop. Wheels only: aiohttp must come with its compiled HTTP
# parser (the gateway refuses to start on the pure-Python one).
RUN /opt/privacy-gateway/bin/pip install --only-binary=aiohttp,uvloop ".[speed]" \
 && /opt/privacy-gateway/bin/python -c "import sys, aiohttp.http_parser as p; sys.exit(p.HttpRequestParser is p.HttpRequestParserPy)"

# --- runtime ----------------------------------------------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="privacy-gateway" \
      org.opencontainers.image.description="A GDPR privacy gateway for helpdesks: a policy-driven async reverse proxy" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/privacy-gateway/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin gateway \
 && mkdir -p /etc/privacy-gateway /var/lib/privacy-gateway \
 && chown 10001:10001 /var/lib/privacy-gateway

COPY --from=build /opt/privacy-gateway /opt/privacy-gateway
COPY policies/example-site.yaml /usr/share/privacy-gateway/example-site.yaml

# State (the embedded SQLite store) lives here; the root filesystem can be read-only.
VOLUME ["/var/lib/privacy-gateway"]
WORKDIR /var/lib/privacy-gateway

USER 10001:10001

# The installed gateway, run as its own user in this stage, must accept the
# bundled example: a broken install or a policy change that breaks it fails
# the build, not the first start.
RUN ["privacy-gateway", "check", "/usr/share/privacy-gateway/example-site.yaml"]

# 8080: public (proxying) listener; 9100: admin listener (/metrics, /healthz, /readyz).
EXPOSE 8080 9100

# No curl in the slim image: ask /healthz with Python, bypassing any proxy variables.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request as u; r = u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:9100/healthz', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# The gateway stops accepting on SIGTERM and drains in-flight requests.
STOPSIGNAL SIGTERM

ENTRYPOINT ["privacy-gateway"]
CMD ["serve", "--policy", "/etc/privacy-gateway"]
