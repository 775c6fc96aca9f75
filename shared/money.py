"""Money in integer fen (1 yuan = 100 fen) and the one rounding rule: half up."""

from typing import Annotated

from pydantic import Field

MAX_FEN = 100_000_000  # 1,000,000 yuan: far above any meal, wallet or top-up
# one meal (or one order at a till): far above a table's meals, far below anything that strains a ledger
MAX_MEAL_FEN = 200_000  # 2,000 yuan
Fen = Annotated[int, Field(ge=0, le=MAX_FEN, strict=True, description="amount in fen (1 yuan = 100 fen), a whole number")]


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, exactly, for non-negative integers."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator < 0:
        raise ValueError("numerator must not be negative")
    return (2 * numerator + denominator) // (2 * denominator)


def percent_of(amount_fen: int, percent: int) -> int:
    """amount × percent / 100, rounded half up to the fen."""
    return round_half_up(amount_fen * percent, 100)


def yuan(amount_fen: int) -> str:
    """Display form, e.g. 1250 -> '12.50'."""
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), 100)
    return f"{sign}{whole}.{cents:02d}"
