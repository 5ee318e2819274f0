"""Command line of the product: python -m etl run | export (SPEC §11)."""
