"""The one error type of the project: a problem with an HTTP status and a stable code (no web imports)."""

from typing import Any


class Problem(Exception):
    """An error reported as RFC 9457 problem+json; domain code raises it too."""

    def __init__(self, status: int, code: str, detail: str = "", *, title: str = "", **extra: Any) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or code.replace("_", " ").capitalize()
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": f"https://meal-assist.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }
