"""Bridges from Horae to systems that execute work elsewhere (``horae.integrations.celery``)."""
