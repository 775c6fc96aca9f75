"""The admin page speaks Chinese and English: every string it shows exists in both, and the page names only real keys."""

import ast
import json
import re
from pathlib import Path

import pytest

from shared.catalog import ALLERGENS, DIET_VARIANTS, DISTRICTS, GROUPS, MEAL_SLOTS
from shared.web import SHARED_UI, MissingTranslation, load_strings

PRICING_UI = Path(__file__).resolve().parents[2] / "services" / "pricing" / "ui"
STRINGS = load_strings(SHARED_UI / "strings.json", PRICING_UI / "strings.json")
TEMPLATE_KEYS = re.compile(r"""(?:data-t(?:-placeholder|-title|-aria-label)?="|\bt\(')([a-z0-9_.]+)""")
SCRIPT_KEYS = re.compile(r"""\bt\("([a-z0-9_.]+)\"""")
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# where the code sits in the calls that raise one: Problem(status, code, ...), PolicyError(code, ...), _check_codes(values, known, code)
CODE_ARGUMENT = {"Problem": 1, "PolicyError": 0, "_check_codes": 2}


def _used(path: Path, pattern: re.Pattern[str]) -> set[str]:
    return set(pattern.findall(path.read_text(encoding="utf-8"))) - {"title_key"}


def test_every_string_has_chinese_and_english() -> None:
    for key, texts in STRINGS.items():
        assert texts["zh"].strip() and texts["en"].strip(), key
        assert texts["zh"] != texts["en"] or key in ("matrix_corner",), f"{key} is not translated"


def test_a_string_missing_a_language_stops_the_page_from_loading(tmp_path: Path) -> None:
    broken = tmp_path / "strings.json"
    broken.write_text(json.dumps({"hello": {"zh": "你好", "en": ""}}), encoding="utf-8")
    with pytest.raises(MissingTranslation, match="hello"):
        load_strings(broken)


@pytest.mark.parametrize(
    "path",
    [SHARED_UI / "templates" / "base.html", PRICING_UI / "templates" / "admin.html"],
    ids=["base.html", "admin.html"],
)
def test_templates_use_only_known_strings(path: Path) -> None:
    used = _used(path, TEMPLATE_KEYS)
    assert used, "the template names its strings"
    assert used - STRINGS.keys() == set()


@pytest.mark.parametrize(
    "path",
    [SHARED_UI / "static" / "page.js", SHARED_UI / "static" / "i18n.js", PRICING_UI / "static" / "admin.js"],
    ids=["page.js", "i18n.js", "admin.js"],
)
def test_scripts_use_only_known_strings(path: Path) -> None:
    assert _used(path, SCRIPT_KEYS) - STRINGS.keys() == set()


@pytest.mark.parametrize(
    ("prefix", "codes"),
    [("district", DISTRICTS), ("group", GROUPS), ("diet", DIET_VARIANTS), ("allergen", ALLERGENS), ("slot", MEAL_SLOTS)],
)
def test_every_catalog_code_has_a_name_in_both_languages(prefix: str, codes: dict[str, str]) -> None:
    for code, chinese in codes.items():
        assert STRINGS[f"{prefix}.{code}"]["zh"] == chinese, code


def test_every_string_is_chinese_first() -> None:
    """The page opens in Chinese: every string's Chinese text is Chinese (only the toggle and separators are symbols)."""
    symbols = {"lang_toggle", "list_separator", "item_separator"}
    assert [key for key, texts in STRINGS.items() if key not in symbols and not CHINESE.search(texts["zh"])] == []


def _error_codes() -> dict[str, str]:
    """Every stable error code pricing's code raises, with the file raising it."""
    codes: dict[str, str] = {}
    for path in sorted((PRICING_UI.parent).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            at = CODE_ARGUMENT.get(called)
            if at is not None and len(node.args) > at:
                arg = node.args[at]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    codes.setdefault(arg.value, path.name)
    return codes


def test_every_error_code_pricing_raises_reads_in_chinese_on_the_page() -> None:
    codes = _error_codes()
    assert {"invalid_period", "duplicate_group", "unknown_allergen", "insufficient_balance"} <= codes.keys(), "the scan finds the codes"
    missing = {code: where for code, where in codes.items() if f"problem.{code}" not in STRINGS}
    assert missing == {}, "the page would show the English detail"
    for code in codes:
        assert CHINESE.search(STRINGS[f"problem.{code}"]["zh"]), code
