"""Settings and default rule and data files: the bottom layer, importing nothing of ours."""

from config.settings import Settings, get_settings, reset_settings

__all__ = ["Settings", "get_settings", "reset_settings"]
