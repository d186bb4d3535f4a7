"""The documentation cannot drift: every example runs, every link resolves.

* Every ``python`` block of README.md and docs/*.md runs, in page order, in one namespace per
  page, inside a copy of the working folder that ``examples/docs_workspace.py`` prepares (the
  bundled sample scans, a multi-page TIFF, a throwaway DEMO PKI, a signed upload).  Blocks
  written as doctest sessions (``>>>``) have their output compared.
* Every ``onestop-docs`` command of a ``sh`` block runs in the same folder and must exit 0,
  or the code written after it as ``# exit N``.
* Every ``toml`` block parses.
* A block that cannot run here (a real USB token, a remote server) is preceded by
  ``<!-- docs-test: skip REASON -->``; those markers are counted and kept to a handful.
* Every relative link of README.md and docs/*.md points at a file of the repository, and
  every ``#anchor`` at a heading of that file.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP_MARK = re.compile(r"<!--\s*docs-test:\s*skip\s+(?P<reason>.+?)\s*-->")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```", re.S | re.M)
MAX_SKIPPED = 6


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    body: str
    skip: str | None

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = SKIP_MARK.search(before)
        out.append(
            Block(page, line, m.group("lang"), m.group("body"), mark["reason"] if mark else None)
        )
    return out


ALL_BLOCKS = [b for p in PAGES for b in blocks(p)]


def test_the_pages_have_examples() -> None:
    # The parser must find the examples; an empty list would make every test below vacuous.
    langs = {b.lang for b in ALL_BLOCKS}
    assert {"python", "sh"} <= langs
    assert sum(b.lang == "python" for b in ALL_BLOCKS) >= 20


def test_skipped_blocks_are_few_and_explained() -> None:
    skipped = [b for b in ALL_BLOCKS if b.skip]
    assert len(skipped) <= MAX_SKIPPED, [b.where() for b in skipped]
    for b in skipped:
        assert len(b.skip or "") >= 10, f"{b.where()}: say why the block cannot run"


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import docs_workspace
    finally:
        sys.path.pop(0)
    return docs_workspace.prepare(tmp_path_factory.mktemp("docs-template"))


@pytest.fixture()
def workspace(workspace_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    shutil.copytree(workspace_template, work)
    monkeypatch.chdir(work)
    monkeypatch.setenv("ONESTOP_OFFICER_PASSWORD", "demo")
    monkeypatch.setenv("ONESTOP_ORG_PASSWORD", "demo")
    monkeypatch.setenv("ONESTOP_DATA_DIR", str(work / "station-data"))
    return work


def _run_python(block: Block, namespace: dict[str, object]) -> None:
    name = block.where()
    if ">>> " in block.body:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.body, namespace, name, str(block.page), block.line)
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        runner = doctest.DocTestRunner(optionflags=flags)
        out = io.StringIO()
        runner.run(test, out=out.write, clear_globs=False)
        assert runner.failures == 0, f"{name}: doctest failed\n{out.getvalue()}"
        return
    code = compile(block.body, name, "exec")
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, namespace)


def _shell_commands(body: str) -> list[tuple[str, int]]:
    """The ``onestop-docs`` commands of a shell block with the exit code each must give."""
    joined = re.sub(r"\\\n\s*", " ", body)
    commands = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line.startswith("onestop-docs "):
            continue
        expected = 0
        m = re.search(r"#\s*exit\s+(\d)\b", line)
        if m:
            expected = int(m.group(1))
        line = " ".join(re.sub(r"\s+#.*$", "", line).split())
        commands.append((line, expected))
    return commands


def _run_shell(block: Block, work: Path) -> None:
    for command, expected in _shell_commands(block.body):
        argv = shlex.split(command)
        # Globs as a shell would expand them, relative to the working folder.
        args: list[str] = []
        for a in argv[1:]:
            matches = sorted(str(p.relative_to(work)) for p in work.glob(a)) if "*" in a else []
            args.extend(matches or [a])
        proc = subprocess.run(
            [sys.executable, "-m", "onestop_docs.cli", *args],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        assert proc.returncode == expected, (
            f"{block.where()}: `{command}` exited {proc.returncode}, expected {expected}\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(page: Path, workspace: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = 0
    for block in blocks(page):
        if block.skip:
            continue
        if block.lang == "python":
            _run_python(block, namespace)
            ran += 1
        elif block.lang == "sh":
            _run_shell(block, workspace)
            ran += 1
        elif block.lang == "toml":
            tomllib.loads(block.body)
            ran += 1
    if not any(b.lang in ("python", "sh", "toml") for b in blocks(page)):
        pytest.skip("no runnable examples on this page")
    assert ran or all(b.skip for b in blocks(page))


LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub-style heading anchors of a Markdown page, plus explicit ``<a id=...>``."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    out = set(re.findall(r'<a\s+(?:id|name)="([^"]+)"', text))
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.M):
        title = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        n, candidate = 1, slug
        while candidate in out:
            candidate = f"{slug}-{n}"
            n += 1
        out.add(candidate)
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(page: Path) -> None:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for m in LINK.finditer(text):
        target = m.group("target")
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or ROOT not in dest.parents:
            broken.append(f"{target}: no such file in the repository")
            continue
        if anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not broken, broken


def test_no_page_points_outside_the_repository() -> None:
    # Users have the repository only: the rules live in docs/regulations.md, not ../shared.
    offenders = [str(p.relative_to(ROOT)) for p in PAGES if "../shared" in p.read_text("utf-8")]
    assert not offenders


def test_anchor_slugs_follow_github() -> None:
    # The anchor rule itself, on headings whose GitHub anchors are known.
    page = ROOT / "build" / "anchor-check.md"
    page.parent.mkdir(exist_ok=True)
    page.write_text("# Crash safety\n## `DuplicateIndex` and `ReuseStore`\n## Quét lại\n")
    try:
        assert _anchors(page) == {"crash-safety", "duplicateindex-and-reusestore", "quét-lại"}
    finally:
        page.unlink()


def test_shell_parser_reads_exit_codes_and_continuations() -> None:
    body = "onestop-docs verify a \\\n   --json  # exit 1\nmake demo\n# onestop-docs x\n"
    assert _shell_commands(body) == [("onestop-docs verify a --json", 1)]


# -- option tables: the defaults a page shows are the code's ------------------------------------

DEFAULTS_MARK = re.compile(
    r"<!--\s*defaults:\s*(?P<target>[\w.]+)\s*-->\s*\n(?P<table>(?:\|.*\n)+)"
)


def _option_classes() -> list[type]:
    """Every public option / rule / config dataclass of the package."""
    import dataclasses
    import importlib
    import pkgutil

    import onestop_docs

    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(onestop_docs.__path__, "onestop_docs."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]) or info.name.endswith(
            ".cli"
        ):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                isinstance(obj, type)
                and dataclasses.is_dataclass(obj)
                and re.search(r"(Options|Rules|Config)$", name)
                and not name.startswith("_")
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def _resolve(dotted: str) -> object:
    import importlib

    module_name, _, attr = dotted.rpartition(".")
    while module_name:
        try:
            obj: object = importlib.import_module(module_name)
        except ModuleNotFoundError:
            module_name, _, head = module_name.rpartition(".")
            attr = f"{head}.{attr}"
            continue
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    raise LookupError(dotted)


def _cell_names(cell: str) -> list[str]:
    return re.findall(r"`([A-Za-z_]\w*)`", cell)


def _same_default(shown: str, value: object) -> bool:
    shown = shown.strip().strip("`").replace('"', "'")
    if shown in {repr(value), str(value)}:
        return True
    if isinstance(value, float) and re.fullmatch(r"[-+0-9.e]+", shown):
        return float(shown) == value
    return False


def option_tables() -> list[tuple[str, str, str]]:
    """(page, class path, table text) of every table marked ``<!-- defaults: CLASS -->``."""
    out = []
    for page in PAGES:
        for m in DEFAULTS_MARK.finditer(page.read_text(encoding="utf-8")):
            out.append((str(page.relative_to(ROOT)), m["target"], m["table"]))
    return out


def test_option_tables_show_the_code_defaults() -> None:
    import dataclasses

    wrong = []
    for page, target, table in option_tables():
        cls = _resolve(target)
        assert isinstance(cls, type) and dataclasses.is_dataclass(cls), target
        defaults = {
            f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        }
        for row in table.splitlines()[2:]:
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            names = _cell_names(cells[0])
            shown = [cells[1]] if len(names) == 1 else [s for s in cells[1].split(", ")]
            if len(shown) != len(names):
                wrong.append(f"{page} {target}: row {row!r}: one default per option")
                continue
            for name, value in zip(names, shown, strict=True):
                if name not in defaults:
                    wrong.append(f"{page} {target}: `{name}` is not an option of the class")
                elif not _same_default(value, defaults[name]):
                    wrong.append(
                        f"{page} {target}.{name}: page says {value}, code {defaults[name]!r}"
                    )
    assert not wrong, wrong


def test_every_option_class_has_a_table() -> None:
    documented = {target for _, target, _ in option_tables()}
    resolved = {id(_resolve(t)) for t in documented}
    missing = [
        f"{c.__module__}.{c.__qualname__}" for c in _option_classes() if id(c) not in resolved
    ]
    assert not missing, f"option classes without a `<!-- defaults: ... -->` table: {missing}"


def test_defaults_check_can_fail() -> None:
    # The comparison itself, on values whose rendering is known.
    assert _same_default("0.5", 0.5) and _same_default('`"whiten"`', "whiten")
    assert _same_default("None", None) and _same_default("(1, 4)", (1, 4))
    assert not _same_default("0.16", 0.115) and not _same_default("True", False)


# -- the architecture page names every module and kernel --------------------------------------


def test_architecture_names_every_module_and_kernel() -> None:
    import fnmatch

    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    package = ROOT / "src" / "onestop_docs"
    modules = sorted(
        p.stem if p.is_file() else p.name
        for p in package.iterdir()
        if not p.name.startswith("_")
        and (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    )
    missing = [m for m in modules if f"`onestop_docs.{m}`" not in text and f"`{m}`" not in text]
    assert not missing, f"docs/architecture.md does not name: {missing}"
    patterns = re.findall(r"`([\w*]+\.pyx)`", text)
    kernels = sorted(p.name for p in (ROOT / "src" / "_native").glob("*.pyx"))
    unnamed = [k for k in kernels if not any(fnmatch.fnmatch(k, pat) for pat in patterns)]
    assert not unnamed, f"docs/architecture.md does not name the kernels {unnamed}"
    named = [m for m in re.findall(r"`onestop_docs\.(\w+)`", text)]
    ghosts = [m for m in named if m not in modules and m not in ("_native",)]
    assert not ghosts, f"docs/architecture.md names modules that do not exist: {ghosts}"


# -- the rules register ---------------------------------------------------------------------------


def _register() -> str:
    return (ROOT / "docs" / "regulations.md").read_text(encoding="utf-8")


def test_register_names_existing_code() -> None:
    where = re.findall(r"\*\*Where\*\*:(.*?)(?=\n\n|\n<a |\Z)", _register(), re.S)
    assert len(where) >= 25
    missing = []
    for block in where:
        for dotted in re.findall(r"`(onestop_docs\.[\w.]+)`", block):
            try:
                _resolve(dotted)
            except (LookupError, AttributeError, ImportError):
                missing.append(dotted)
    assert not missing, missing


def test_every_compliance_rule_has_an_entry() -> None:
    from onestop_docs import compliance

    ids = set(re.findall(r'<a id="rule-([\w-]+)"></a>', _register()))
    rules = set(compliance.RULE_IDS)
    assert rules, "compliance.RULE_IDS lists the rule ids the checker can report"
    assert not rules - ids, f"rules without an entry in docs/regulations.md: {rules - ids}"


def test_every_finding_and_problem_code_is_explained() -> None:
    from onestop_docs import compliance
    from onestop_docs.signing import PROBLEM_CODES

    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([\w-]+)` \|", text, re.M))
    missing = (set(compliance.RULE_IDS) | set(PROBLEM_CODES)) - rows
    assert not missing, f"docs/findings.md has no row for {sorted(missing)}"


def test_rule_ids_are_the_ones_the_checker_reports() -> None:
    # RULE_IDS must list what check_record can emit: every rule id written in the checker's
    # source is in it (a new finding without a register entry fails here).
    from onestop_docs import compliance

    source = Path(compliance.__file__).read_text(encoding="utf-8")
    emitted = set(re.findall(r'(?:add|Finding)\(\s*"([a-z][\w-]*)"', source))
    emitted |= set(re.findall(r'^\s+rule = "([a-z][\w-]*)"', source, re.M))
    assert emitted, "the pattern finds the checker's findings"
    assert emitted <= set(compliance.RULE_IDS), emitted - set(compliance.RULE_IDS)
