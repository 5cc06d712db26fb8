# ccpulse: one image for the worker, the simulator and the demo.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY processors processors
COPY streams streams
COPY alerts alerts
COPY ccpulse ccpulse
# The worker runs as a system user without a home. Its only writable need is a data
# directory (scratch for its Kafka library, and its replica's checkpoint, which shortens a
# restart; the state is in Redis, so it may start empty), made here and owned by that user,
# mode 0700, so the image starts as it is, with a read-only root too if /var/lib/ccpulse is
# mounted as a tmpfs or an empty volume.
RUN pip install --no-cache-dir . \
 && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ccpulse \
 && install -d -o ccpulse -g ccpulse -m 0700 /var/lib/ccpulse
ENV CCPULSE_DATA_DIR=/var/lib/ccpulse
USER ccpulse
EXPOSE 9464
ENTRYPOINT ["ccpulse"]
CMD ["worker"]
