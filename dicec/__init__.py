"""DiCE-C on Celery: shared contracts (settings, Redis layout, errors) and the CLI."""

__version__ = "0.1.0"
