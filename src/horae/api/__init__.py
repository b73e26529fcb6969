"""The REST API: ``/api/v1`` on Starlette, served by uvicorn (docs/api.md)."""

from horae.api.app import Api, ApiSettings, create_app
from horae.api.server import ApiServer

__all__ = ["Api", "ApiServer", "ApiSettings", "create_app"]
