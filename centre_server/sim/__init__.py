"""Simulations through the real engine: trace replay and a simulated centre day."""
