"""PortaCare sla."""
