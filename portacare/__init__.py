"""PortaCare Monitor: agents run checks; a collector turns failures into SLA-bound tickets."""
