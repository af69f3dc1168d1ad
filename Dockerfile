# The service with its shipped reader; the index is built from seeds/ on first start.
# It listens on all of the container's interfaces (the container is the boundary) and answers only to the
# Host names in QA_ALLOWED_HOSTS: set the names clients use, e.g. -e QA_ALLOWED_HOSTS=qa.example.org.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 QA_HOST=0.0.0.0 QA_PORT=8000 \
    QA_ALLOWED_HOSTS=localhost,127.0.0.1
WORKDIR /app
# The project pins torch==2.13.0; from the default registry that is a CUDA-enabled build, which
# runs on the CPU as well. Pass --build-arg TORCH_INDEX=<url of a CPU wheel index> for a smaller image.
ARG TORCH_INDEX=""
RUN if [ -n "$TORCH_INDEX" ]; then pip install torch==2.13.0 --index-url "$TORCH_INDEX"; \
    else pip install torch==2.13.0; fi
COPY pyproject.toml README.md ./
COPY qa ./qa
RUN pip install .
COPY models ./models
COPY seeds ./seeds
ENV QA_READER_DIR=/app/models/reader QA_VERIFIER_DIR=/app/models/verifier QA_SEEDS_DIR=/app/seeds QA_INDEX_DIR=/app/index QA_CACHE_DIR=/app/.cache
# Build the reader's and the embedder's ONNX graphs into the image (QA_CACHE_DIR), so that containers start
# without exporting them.
RUN python -c "from qa.settings import Settings; from qa.reader.extractive import ExtractiveReader; \
from qa.search.embedding import Embedder; \
r = ExtractiveReader.from_settings(Settings(), runtime='onnx'); r.warm_up(); print('reader runtime:', r.runtime_used); \
e = Embedder.from_settings(Settings(embedding_runtime='onnx')); e.warm_up(); print('embedder runtime:', e.runtime_used)"
# run as a user that owns only what the service writes (the index and the graph cache)
RUN useradd --system --uid 10001 --home-dir /app qa && mkdir -p /app/index /app/.cache && chown -R qa /app/index /app/.cache
USER qa
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"
CMD ["qa", "serve"]
