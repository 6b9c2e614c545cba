"""Where convoys are: positions, devices, OsmAnd, track files, ETA and delay alerts."""
