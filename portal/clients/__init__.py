"""HTTP clients of the outside systems the portal drives: one per system."""
