"""`deecho serve`: the MusicGPT deecho API on the local engine.

Public surface: `create_app(config)` builds the FastAPI app; `ServerConfig`
holds its settings (`ServerConfig.from_settings(load_settings())`).
"""

from deecho.server.app import create_app
from deecho.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
