"""Simulated field operation: the demo, the escort simulator and simulated escorts."""
