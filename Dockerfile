# Multi-stage image: build a wheel (demo bundle included), install it into a slim
# runtime that runs as a non-root user. What the service writes (the interaction
# history's segments) goes to /var/lib/nextbest, a volume the user owns.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build
COPY pyproject.toml README.md ./
COPY src ./src
COPY models ./models
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NEXTBEST_HOST=0.0.0.0 \
    NEXTBEST_PORT=8000 \
    NEXTBEST_LOG_FORMAT=json \
    NEXTBEST_HISTORY_DIR=/var/lib/nextbest/history
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl \
    && useradd --system --uid 10001 --no-create-home nextbest \
    && mkdir -p /var/lib/nextbest && chown nextbest /var/lib/nextbest
VOLUME /var/lib/nextbest
USER nextbest
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s --start-period=10s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"NEXTBEST_PORT\"]}/health/ready', timeout=1)" || exit 1
ENTRYPOINT ["nextbest"]
CMD ["serve"]
