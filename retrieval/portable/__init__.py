"""A knowledge base to one portable file and back: `format` (the file), `transfer`."""
