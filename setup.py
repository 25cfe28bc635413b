"""Build hook: copy the config tree and the bundled sample into the package.

``configs/`` and ``data/sample/`` live at the top of the repository (the layout the project
fixes); a wheel must carry them inside ``stance/`` so that an installed package finds them
(:mod:`stance.resources`). setuptools' ``package-data`` only takes files below the package,
so ``build_py`` copies both trees into ``stance/_resources/`` of the build. Editable installs
read the repository's own folders and need no copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
TREES = {"configs": ROOT / "configs", "sample": ROOT / "data" / "sample"}


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "stance" / "_resources"
        for name, src in TREES.items():
            dst = target / name
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithResources})
