"""Build-time tools (gazetteer, basemap, asset fetch), run as ``python -m scripts.NAME``."""
