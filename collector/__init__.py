"""PortaCare collector."""
