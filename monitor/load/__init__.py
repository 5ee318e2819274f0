"""A load end to end: the pipeline, the single-load lock, the inbox and archive, the scheduler."""
