"""The API's errors, as the simulator raises them: `{"id", "message"}` with the status."""


class ApiError(Exception):
    def __init__(self, status: int, error_id: str, message: str):
        super().__init__(message)
        self.status, self.error_id, self.message = status, error_id, message


def not_found():
    return ApiError(404, "not_found", "The resource you were accessing could not be found.")


def unprocessable(message):
    return ApiError(422, "unprocessable_entity", message)


def bad_request(message):
    return ApiError(400, "bad_request", message)
