"""Where convoys are: positions, devices, OsmAnd, track files, ETA, delay alerts, leases."""
