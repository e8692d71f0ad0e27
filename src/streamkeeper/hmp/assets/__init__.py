"""Videos (assets): finished or in-progress recordings, their metadata and HotMarks."""
