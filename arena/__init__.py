"""The arena Django project and its core app."""

from arena.celery import app as celery_app

__all__ = ["celery_app"]
