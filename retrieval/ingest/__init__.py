"""Getting articles in: loading files, folders and URLs, chunking, and writing them to the index."""
