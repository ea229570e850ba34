"""Persistence only: metadata (SQLAlchemy) and blobs (content-addressed over fsspec)."""
