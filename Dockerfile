# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with the full toolchain, install it into a slim image.
# The install and start commands are the README's (pip install ., aggregator run);
# tests/test_deployment.py checks they stay so.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY aggregator ./aggregator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 aggregator
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER aggregator
WORKDIR /home/aggregator
COPY --chown=aggregator config.toml ./config.toml
COPY --chown=aggregator examples ./examples
# The embedded default; compose.yaml points instances at PostgreSQL instead.
ENV AGGREGATOR_DATABASE_URL=sqlite:////home/aggregator/data/aggregator.db
RUN mkdir -p /home/aggregator/data
VOLUME ["/home/aggregator/data"]
EXPOSE 8000
# /healthz answers 200 only when the database answers too. No curl in a slim image:
# the image's own Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# All interfaces: published ports reach a container through its own network device.
CMD ["aggregator", "run", "--host", "0.0.0.0", "--port", "8000"]
