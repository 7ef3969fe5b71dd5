"""PortaCare collector/api."""
