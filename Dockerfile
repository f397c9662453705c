# shiftemp in a container: docker run --rm -v "$PWD:/data" shiftemp compare /data/old.parquet /data/new.parquet
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 shiftemp
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shiftemp ./shiftemp
RUN pip install .

USER 10001
WORKDIR /data
ENTRYPOINT ["shiftemp"]
CMD ["--help"]
