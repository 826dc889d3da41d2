"""The hub runtime: jobs that move files through the pipeline."""
