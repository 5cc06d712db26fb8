# ccpulse: one image for the worker, the simulator and the demo.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY processors processors
COPY streams streams
COPY alerts alerts
COPY ccpulse ccpulse
RUN pip install --no-cache-dir . && useradd --system ccpulse
USER ccpulse
EXPOSE 9464
ENTRYPOINT ["ccpulse"]
CMD ["worker"]
