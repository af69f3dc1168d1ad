# The service with its shipped reader; the index is built from seeds/ on first start.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 QA_HOST=0.0.0.0 QA_PORT=8000
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
ENV QA_READER_DIR=/app/models/reader QA_SEEDS_DIR=/app/seeds QA_INDEX_DIR=/app/index QA_CACHE_DIR=/app/.cache
# Build the reader's ONNX graph into the image (QA_CACHE_DIR), so that containers start without exporting it.
RUN python -c "from qa.settings import Settings; from qa.reader.extractive import ExtractiveReader; \
r = ExtractiveReader.from_settings(Settings(), runtime='onnx'); r.warm_up(); print('reader runtime:', r.runtime_used)"
EXPOSE 8000
CMD ["qa", "serve"]
