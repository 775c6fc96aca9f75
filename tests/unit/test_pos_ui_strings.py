"""The till page speaks Chinese and English: every string exists in both, the page names only real keys, every code has its words."""

import re
from pathlib import Path

from shared.catalog import ALLERGENS, DIET_VARIANTS, MEAL_SLOTS
from shared.web import SHARED_UI, load_strings

ORDER_UI = Path(__file__).resolve().parents[2] / "services" / "order" / "ui"
STRINGS = load_strings(SHARED_UI / "strings.json", ORDER_UI / "strings.json")
TEMPLATE_KEYS = re.compile(r"""(?:data-t(?:-placeholder|-title|-aria-label)?="|\bt\(')([a-z0-9_.]+)""")
SCRIPT_KEYS = re.compile(r"""\bt\("([a-z0-9_.]*[a-z0-9])\"""")
SCRIPT_PREFIXES = re.compile(r""""([a-z]+[_.])" \+""")  # t("diet_" + d), "problem." + code
# what the order API (and pricing, relayed) may answer the till with
TILL_CODES = """insufficient_balance card_reported_lost card_suspended card_inactive unknown_card unknown_menu_item sold_out
menu_not_published diet_variant_unavailable meal_total_too_large wallet_needs_card cutoff_passed service_date_too_far
service_date_in_past walk_in_today_only channel_not_offered site_does_not_sell unknown_site scope_forbidden role_forbidden
missing_token invalid_token idempotency_key_reused idempotency_key_required idempotency_key_invalid request_in_progress
pricing_unavailable validation_error malformed_json payload_too_large internal_error upstream_error not_ready unknown_order
rejected""".split()


def _used(path: Path, pattern: re.Pattern[str]) -> set[str]:
    return set(pattern.findall(path.read_text(encoding="utf-8"))) - {"title_key"}


def test_every_string_has_chinese_and_english() -> None:
    for key, texts in STRINGS.items():
        assert texts["zh"].strip() and texts["en"].strip(), key
        assert texts["zh"] != texts["en"], f"{key} is not translated"
        assert re.search(r"[\u4e00-\u9fff]", texts["zh"]) or key == "lang_toggle", f"{key}: the Chinese text has no Chinese"
        assert set(re.findall(r"\{(\w+)\}", texts["zh"])) == set(re.findall(r"\{(\w+)\}", texts["en"])), f"{key}: placeholders differ"


def test_the_page_names_only_known_strings() -> None:
    pages = {SHARED_UI / "templates" / "base.html": TEMPLATE_KEYS, ORDER_UI / "templates" / "pos.html": TEMPLATE_KEYS}
    scripts = {SHARED_UI / "static" / name: SCRIPT_KEYS for name in ("page.js", "i18n.js")}
    for path, pattern in {**pages, **scripts, ORDER_UI / "static" / "pos.js": SCRIPT_KEYS}.items():
        used = _used(path, pattern)
        assert used or path.suffix == ".js", f"{path.name} names its strings"
        assert used - STRINGS.keys() == set(), path.name


def test_keys_the_till_builds_exist() -> None:
    """pos.js builds keys as prefix + code: every code it can meet has a string under each prefix."""
    prefixes = _used(ORDER_UI / "static" / "pos.js", SCRIPT_PREFIXES)
    codes = {
        "diet_": DIET_VARIANTS,
        "allergen_": ALLERGENS,
        "slot_": MEAL_SLOTS,
        "method_": ("card_wallet", "cash", "mobile"),
        "problem.": TILL_CODES,
    }
    assert prefixes <= codes.keys(), prefixes - codes.keys()
    for prefix in prefixes:
        missing = {code for code in codes[prefix] if f"{prefix}{code}" not in STRINGS}
        assert not missing, f"{prefix}: {sorted(missing)}"


def test_every_code_the_till_can_meet_reads_well_in_both_languages() -> None:
    for code in TILL_CODES:
        texts = STRINGS[f"problem.{code}"]
        assert code not in texts["zh"] and code not in texts["en"], f"problem.{code} shows its code"


def test_the_till_takes_the_city_time_zone_from_the_server() -> None:
    script = (ORDER_UI / "static" / "pos.js").read_text(encoding="utf-8")
    assert "Asia/" not in script and "city.timezone" in script
