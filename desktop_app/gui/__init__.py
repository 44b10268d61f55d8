"""The Qt shell over the headless core."""
