"""PortaCare collector/migrations."""
