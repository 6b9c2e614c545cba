"""Pure geography: geodesy, datum conversion (WGS-84, GCJ-02, BD-09) and the embedded gazetteer."""
