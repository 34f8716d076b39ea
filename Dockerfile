# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with the full toolchain, install it into a slim image.
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
ENV AGGREGATOR_DATABASE_URL=sqlite:////home/aggregator/data/aggregator.db
RUN mkdir -p /home/aggregator/data
VOLUME ["/home/aggregator/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["aggregator", "feeds", "list", "--json"]
CMD ["aggregator", "run"]
