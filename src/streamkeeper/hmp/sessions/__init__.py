"""Sessions: named groups of sources to watch live and record."""
