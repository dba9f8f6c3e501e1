"""Domain services: the rules. No HTTP objects in here; writes go through the writer."""
