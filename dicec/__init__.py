"""DiCE-C on Celery, the ground: settings, Redis layout, errors, records. Imports nothing of
the project; the CLI lives in scripts/cli."""

__version__ = "0.1.0"
