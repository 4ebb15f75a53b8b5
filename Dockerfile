# The MHC Live app image (`mhc serve`); nginx-rtmp runs from docker/nginx.Dockerfile.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/mhc
COPY pyproject.toml README.md ./
# Every package `mhc` imports; tests/test_docker.py checks this list against the tree.
COPY server server
COPY forensics forensics
COPY ticketing ticketing
COPY ledger ledger
COPY distribution distribution
COPY media media
COPY nginx nginx
# Editable, so the code runs from /srv/mhc where the nginx template and web client live.
RUN pip install --no-cache-dir -e . && useradd --system --home /srv/mhc mhc \
    && mkdir -p /var/lib/mhc && chown mhc /var/lib/mhc
USER mhc
ENV MHC_HOST=0.0.0.0 MHC_PORT=8080
EXPOSE 8080
CMD ["sh", "-c", "mhc migrate && exec mhc serve"]
