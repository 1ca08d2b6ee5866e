"""Ray Job entrypoints (``ray job submit ... -- python -m arena.jobs.campaign``)."""
