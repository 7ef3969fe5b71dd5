"""PortaCare collector/migrations/versions."""
