FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY arena arena
COPY judges judges
COPY ratings ratings
COPY simulator simulator
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
