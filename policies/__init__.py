"""Per-request decision policies (split point, pruning ratios, transmit power, clocks)."""
