"""Pure rating library: comparisons in, frozen results out. No Django, HTTP or Celery here."""
