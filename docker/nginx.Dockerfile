# nginx with the RTMP module, configured by `mhc nginx-config` at container start.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends nginx libnginx-mod-rtmp \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/mhc
COPY pyproject.toml README.md ./
# `mhc nginx-config` loads the whole CLI, which imports every package.
COPY server server
COPY forensics forensics
COPY ticketing ticketing
COPY ledger ledger
COPY distribution distribution
COPY media media
COPY nginx nginx
# Editable, so `mhc nginx-config` finds nginx/nginx.conf.template under /srv/mhc.
RUN pip install --no-cache-dir -e .
# The public listeners bind MHC_BIND_ADDRESS (compose sets 0.0.0.0); the heartbeat relay
# (MHC_NGINX_HOOK_PORT) stays on the container's loopback.
EXPOSE 1935 8000
CMD ["sh", "-c", "mhc nginx-config --out /etc/nginx/mhc.conf && exec nginx -c /etc/nginx/mhc.conf"]
