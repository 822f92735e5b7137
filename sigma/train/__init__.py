"""SIGMA train layer."""
