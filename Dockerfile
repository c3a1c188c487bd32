# Plain image of the service with embedded defaults (SQLite and Chroma under /data).
# Unbuilt here: no Docker engine runs on the development machines (see README, Limitations).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IMON_HOME=/data \
    IMON_HOST=0.0.0.0 \
    NUMBA_CACHE_DIR=/data/.numba_cache \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /srv/imon
COPY requirements.lock pyproject.toml README.md ./
# Point TORCH_INDEX_URL at a CPU wheel index, or PyPI's default torch build is several GB.
ARG TORCH_INDEX_URL=""
RUN pip install --no-cache-dir ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0 \
 && pip install --no-cache-dir -r requirements.lock
COPY app ./app
COPY agent ./agent
COPY detection ./detection
COPY ingestion ./ingestion
COPY store ./store
COPY eval ./eval
RUN pip install --no-cache-dir --no-deps .

VOLUME ["/data"]
EXPOSE 8000
CMD ["imon", "serve"]
