"""Workshops: an instructor teaches a class with the four tools (lessons,
scores against the synthetic sky's truth, the class's combined results)."""
