# docker run -p 5993:5993 -p 5994:5994 -v DIR:/data -e PGMKTS_PASSWORD=... IMAGE
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pgmkts ./pgmkts
COPY docker/entrypoint.sh /entrypoint.sh
RUN pip install --no-cache-dir . && chmod +x /entrypoint.sh
EXPOSE 5993 5994
VOLUME /data
# Listening on all interfaces: the entrypoint refuses to start without PGMKTS_PASSWORD.
ENTRYPOINT ["/entrypoint.sh"]
