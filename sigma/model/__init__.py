"""SIGMA model layer."""
