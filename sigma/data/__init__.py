"""Edit-pair data: format, loading, synthesis and validation."""
