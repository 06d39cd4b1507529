"""Small generic helpers with no HTTP and no policy in them: bounded memos, key rings, metric batches."""
