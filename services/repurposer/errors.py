"""Failures of a repurposing job that retrying cannot fix."""


class PipelineError(RuntimeError):
    """No speech, unusable media...: ``code`` is stable for clients, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
