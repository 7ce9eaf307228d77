# Production image: gunicorn (web) and celery (worker) from the same image.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 FOOTNOTE_VAR_DIR=/data EMBEDDING_CACHE_DIR=/opt/footnote/models
RUN apt-get update && apt-get install -y --no-install-recommends \
        libmagic1 poppler-utils libreoffice-core libreoffice-writer libreoffice-impress \
        tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 footnote && mkdir -p /data && chown footnote /data
WORKDIR /app
COPY pyproject.toml README.md ./
# A CPU build of torch first, so nothing pulls a multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.4,<2.15" \
    && pip install . \
    && pip install --no-deps "unstructured-inference>=1.1,<2"
COPY . .
RUN SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build python manage.py collectstatic --noinput
# The reranker does not ship in any package: fetch it from the hub while building (the one step
# that needs the hub). It lands in the image, not in the /data volume, so every container has it;
# its ONNX export is made there on first use.
RUN SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build python manage.py models fetch reranker \
    && chown -R footnote /opt/footnote
USER footnote
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-c", "python:config.gunicorn_hooks", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "8", "--timeout", "300"]
