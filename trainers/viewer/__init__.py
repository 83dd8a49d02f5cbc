"""``atropos-envs view``: samples, training runs and comparisons in the browser (127.0.0.1)."""

from trainers.viewer.app import ViewerServer, create_app
from trainers.viewer.index import Index, Query

__all__ = ["Index", "Query", "ViewerServer", "create_app"]
