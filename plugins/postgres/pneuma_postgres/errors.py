"""The one error type of the utility."""


class PostgresError(RuntimeError):
    """A problem with the configured server, worded for the person running the pipeline."""
