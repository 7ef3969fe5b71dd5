"""PortaCare Monitor: agents run checks; a collector turns failures into SLA-bound tickets."""

__version__ = "0.1.0"
