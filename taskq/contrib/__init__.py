"""Framework integrations (each imports its framework; nothing here is imported by taskq)."""
