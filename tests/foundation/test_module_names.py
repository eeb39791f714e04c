"""Module names say what they hold: apart from the per-package roles, no module name repeats in ``pledge``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pledge

ROLES = {"__init__", "claims", "tables"}
"""Names that mean one role in every package that has them (docs/architecture.md, "Module names")."""


def test_no_module_name_repeats_outside_the_package_roles() -> None:
    root = Path(pledge.__file__).parent
    places: defaultdict[str, list[str]] = defaultdict(list)
    for path in root.rglob("*.py"):
        if "migrations" not in path.parts:
            places[path.stem].append(str(path.relative_to(root)))
    repeated = {name: paths for name, paths in places.items() if len(paths) > 1 and name not in ROLES}
    assert repeated == {}
