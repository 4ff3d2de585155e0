"""The arena Django project and its core app."""

import os

# The fits solve small systems (BT Newton steps, Plackett-Luce's L-BFGS on one variable per
# model): BLAS threads only add synchronisation there, and on a busy machine they made a
# K-wise board's bootstrap several times slower, as the CLI found for BT (ratings/__main__).
# Set before numpy loads; exported values win.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from arena.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
