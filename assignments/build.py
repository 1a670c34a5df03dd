"""Build the assignments with nbgrader: every key in source/ becomes a student version in release/ (function
bodies replaced by a stub, checks locked) and an entry in the gradebook (gradebook.db: the check cells and
their points, which `nbgrader autograde` puts back into every submission). `make assignments` runs this.

    python assignments/build.py            # this folder: release/ and gradebook.db
    python assignments/build.py --to DIR   # a copy of source/ built in DIR (the staleness test uses it)
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASSIGNMENTS = tuple(sorted(p.name for p in (HERE / "source").iterdir() if p.is_dir() and not p.name.startswith(".")))


def build(root: Path = HERE) -> list[Path]:
    """Generate every assignment's student version under ``root``/release; returns the notebooks written."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    # a new gradebook runs nbgrader's database migrations with the `alembic` command of this environment
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(HERE)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = "sqlite:///" + str(root / "gradebook.db")
    api = NbGraderAPI(config=config)
    for assignment in ASSIGNMENTS:
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {assignment}:\n{result.get('log')}\n{result.get('error')}")
    return sorted((root / "release").glob("*/*.ipynb"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", type=Path, help="build a copy of source/ in this folder instead")
    args = parser.parse_args()
    root = HERE
    if args.to is not None:
        root = args.to.resolve()
        shutil.copytree(HERE / "source", root / "source", dirs_exist_ok=True)
    written = build(root)
    print(f"{len(written)} student versions in {root / 'release'}; gradebook {root / 'gradebook.db'}")


if __name__ == "__main__":
    main()
