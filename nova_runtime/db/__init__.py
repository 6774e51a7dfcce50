"""Databases: the API database (api/) and the cell databases (main/), each with
its SQLAlchemy models and alembic migrations."""
