"""setuptools entry point; metadata lives in setup.cfg.

``esplade_eval_java.pth`` is copied into the wheel's root so that it lands in
site-packages: it makes Pyserini's own command line (``python -m pyserini.search.lucene``)
find a Java 21 runtime and drop a JVM option that runtime lacks (see
``esplade_eval/lucene/java.py``).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "esplade_eval_java.pth"


class BuildWithPth(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / PTH
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(__file__).parent / PTH, target)

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [str(Path(self.build_lib) / PTH)]


setup(cmdclass={"build_py": BuildWithPth})
