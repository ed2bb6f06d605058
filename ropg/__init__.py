"""ropg."""
