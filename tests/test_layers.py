"""The rooms of the code stay apart: use cases never speak Telegram, and no module grows too big.

Services decide and record; they emit notices, and `bot/messages` alone knows how a message
looks (text, buttons, parse mode). A `telegram` import under `bot/services` — even of a keyboard
class — would put the look of a message back into a use case: this test fails on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "bot" / "services"
# How long one module may grow, and where (migrations aside).
MAX_LINES = 700
SIZED = ("bot", "handlers", "conversations", "storage")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, with the line, whatever the import style."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_no_service_imports_telegram() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted(SERVICES.rglob("*.py"))
        for line, module in _imported_modules(path)
        if module == "telegram" or module.startswith("telegram.")
    ]
    assert offenders == [], "services emit notices; bot/messages renders them:\n" + "\n".join(
        offenders
    )


def test_the_scan_sees_every_import_style(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import telegram\nimport telegram.ext as ext\nfrom telegram import Bot\n"
        "from telegram.constants import ParseMode\nfrom bot.text import escaped\n"
    )
    modules = [module for _line, module in _imported_modules(sample)]
    assert modules == ["telegram", "telegram.ext", "telegram", "telegram.constants", "bot.text"]


def test_no_product_module_is_longer_than_700_lines() -> None:
    long = []
    for package in SIZED:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if "/migrations/" in name:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                long.append(f"{name}: {lines} lines")
    assert long == []


def test_the_domain_needs_neither_the_database_nor_telegram() -> None:
    """The ORM imports the vocabulary, not the reverse (bot/domain is plain Python)."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "bot" / "domain").rglob("*.py"))
        for line, module in _imported_modules(path)
        if module.split(".")[0] in {"storage", "telegram", "sqlalchemy"}
    ]
    assert offenders == []
