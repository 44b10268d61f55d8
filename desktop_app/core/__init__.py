"""The headless core. Nothing under this package imports Qt (a test checks it)."""
