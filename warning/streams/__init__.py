"""Faust wiring: agents move records between Kafka and the pure core; state lives in tables."""
