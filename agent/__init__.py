"""PortaCare agent."""
