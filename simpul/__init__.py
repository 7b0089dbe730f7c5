"""Simpul core."""
