"""SIGMA eval layer."""
