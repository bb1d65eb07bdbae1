"""Pure numpy maths of the metrics, one module per family (no state, no I/O)."""
