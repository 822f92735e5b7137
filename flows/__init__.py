"""Prefect flows: thin wrappers that chain ``sigma`` stage functions with retries and gates."""
