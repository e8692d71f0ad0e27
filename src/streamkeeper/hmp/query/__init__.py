"""The `filter` language of collection queries (`category::"Label" IN ("a", "b") & ...`)."""

from .filter import Clause, Filter, FilterSyntaxError, parse_filter

__all__ = ["Clause", "Filter", "FilterSyntaxError", "parse_filter"]
