# nginx with the RTMP module, configured by `mhc nginx-config` at container start.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends nginx libnginx-mod-rtmp \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/mhc
COPY pyproject.toml README.md ./
COPY server server
COPY nginx nginx
RUN pip install --no-cache-dir .
EXPOSE 1935 8000
CMD ["sh", "-c", "mhc nginx-config --out /etc/nginx/mhc.conf && exec nginx -c /etc/nginx/mhc.conf"]
