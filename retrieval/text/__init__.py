"""Reading text: words and stems, sentence boundaries, and dates. Used by every layer."""
