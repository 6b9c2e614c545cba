"""Folium rendering only: view objects in, maps out; offline assets and the basemap."""
