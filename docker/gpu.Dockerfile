# The GPU worker image: the engine (torch with CUDA) plus the Django code it reports through.
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 IRIS_VAR_DIR=/var/lib/iris
WORKDIR /app
COPY pyproject.toml README.md ./
COPY surveys surveys
COPY iri_engine iri_engine
# torch comes with the base image; install the rest of the engine and web extras around it.
RUN pip install --no-cache-dir '.[web]' 'safetensors>=0.4,<1' 'lpips==0.1.4' torchvision
COPY manage.py ./
COPY templates templates
RUN useradd --system --uid 1000 iris && mkdir -p /var/lib/iris /home/iris/.cache && chown -R iris /var/lib/iris /home/iris
USER iris
CMD ["celery", "-A", "surveys", "worker", "-Q", "gpu", "--concurrency", "1", "--loglevel", "INFO"]
