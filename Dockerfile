# Image for the api, worker and migrate services of docker-compose.yml.
# Not built in this project's CI (no Docker engine there); docker-compose.yml is validated instead.

# The DApp page (web/ -> web/dist), which the API serves at /.
FROM node:20-bookworm-slim AS web
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY web web
COPY contracts/artifacts contracts/artifacts
RUN npm run build:web

FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libsndfile1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# CPU-only torch first, so the project's torch==2.13.0 pin does not pull a CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY backend backend
COPY worker worker
COPY ml ml
COPY miao miao
COPY contracts/artifacts contracts/artifacts
RUN pip install --no-cache-dir -e .
COPY --from=web /app/web/dist web/dist

ENV MIAO_VAR_DIR=/var/lib/miao
EXPOSE 8000
