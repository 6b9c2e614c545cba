"""Read models for people: reports and the data the maps draw."""
