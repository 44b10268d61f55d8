"""Object removal: filling a hole in a picture from the rest of it (patch synthesis, the
neural fill at working resolution, and the path back to full resolution)."""
