# One image for `tradewarden operator`, `tradewarden bot` and `tradewarden venue-sim`.
# Build: docker build -t ghcr.io/tradewarden/tradewarden:0.1.0 .

# --- builder: compilers and build tools live only here ------------------------
FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install --yes --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY bot ./bot
COPY operator ./operator
# The wheel and all its dependencies, built once; the final stage only installs them.
RUN python -m pip wheel --wheel-dir /wheels .

# --- final: the runtime only, no build tools, non-root -----------------------
FROM python:3.11-slim-bookworm AS final
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --gid 10001 tradewarden \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tradewarden \
    && mkdir -p /var/lib/tradewarden \
    && chown 10001:10001 /var/lib/tradewarden
COPY --from=builder /wheels /wheels
RUN python -m pip install --no-index --find-links /wheels tradewarden \
    && rm -rf /wheels
# The SQLite journal: a volume so a restarted container finds its intents.
VOLUME ["/var/lib/tradewarden"]
WORKDIR /var/lib/tradewarden
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["tradewarden"]
CMD ["--help"]
