"""Errors a use case reports to its caller; the web layer maps each to a status code."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every expected failure; `message` is safe to show to a user."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ServiceError):
    status_code = 400


class NotAuthenticated(ServiceError):
    status_code = 401


class Forbidden(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class Gone(ServiceError):
    status_code = 410


class Moved(ServiceError):
    """The thing was renamed: the web layer redirects to the same address under `slug`."""

    status_code = 301

    def __init__(self, message: str, slug: str) -> None:
        super().__init__(message)
        self.slug = slug


class Conflict(ServiceError):
    status_code = 409


class Busy(ServiceError):
    status_code = 503

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
