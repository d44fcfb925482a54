"""One exception family. The API renders each as {"code", "message", "fields"} with its status."""


class LaminaError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class ValidationFailed(LaminaError):
    code = "invalid"
    status = 400


class NotPermitted(LaminaError):
    code = "not_permitted"
    status = 403


class NotFound(LaminaError):
    code = "not_found"
    status = 404


class Conflict(LaminaError):
    code = "conflict"
    status = 409


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, *, from_status: str, to_status: str, message: str | None = None):
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(
            message
            or f"A request in status '{from_status}' cannot move to '{to_status}'; "
            "it may have been decided or changed by someone else.",
            code=self.code,
        )
