"""The tool catalogue (functions, their schemas and models) and the worker processes serving it."""
