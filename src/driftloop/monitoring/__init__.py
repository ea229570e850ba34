"""Monitoring: data drift, concept drift, data quality and estimated performance of served models."""
