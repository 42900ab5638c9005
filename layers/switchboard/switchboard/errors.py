"""Domain exceptions, mapped to HTTP responses in one place (switchboard.http)."""


class SwitchboardError(Exception):
    """Base of errors that carry a client-facing code and message."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # More the client acts on, beside error and message (a closed window's allowed kinds of reply).
        self.details: dict[str, object] = {}


class InvalidSignature(SwitchboardError):
    status_code = 401
    code = "invalid_signature"


class Unauthorized(SwitchboardError):
    status_code = 401
    code = "unauthorized"


class Forbidden(SwitchboardError):
    status_code = 403
    code = "forbidden"


class MalformedPayload(SwitchboardError):
    status_code = 400
    code = "malformed_payload"


class PayloadTooLarge(SwitchboardError):
    status_code = 413
    code = "payload_too_large"


class InvalidRequest(SwitchboardError):
    status_code = 400
    code = "invalid_request"


class MethodNotAllowed(SwitchboardError):
    status_code = 405
    code = "method_not_allowed"


class NotFound(SwitchboardError):
    status_code = 404
    code = "not_found"


class EnqueueFailed(SwitchboardError):
    """The queue refused some messages; the provider must retry the whole delivery."""

    status_code = 503
    code = "enqueue_failed"
