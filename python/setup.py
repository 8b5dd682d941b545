"""Puts libliteattn.so inside the package at build time: the file named by $LITEATTN_LIBRARY,
or one built now with cmake from this checkout ($LITEATTN_CMAKE_ARGS adds configure flags, e.g.
-DLITEATTN_CUDA=OFF). An editable install skips this and finds the checkout's build*/ dirs."""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "liteattn" / "libliteattn.so"
        source = os.environ.get("LITEATTN_LIBRARY")
        if source:
            src = Path(source)
        else:
            build = REPO / "build-python"
            args = os.environ.get("LITEATTN_CMAKE_ARGS", "").split()
            subprocess.check_call(["cmake", "-S", str(REPO), "-B", str(build),
                                   "-DCMAKE_BUILD_TYPE=Release", "-DLITEATTN_BUILD_TESTS=OFF",
                                   *args])
            subprocess.check_call(["cmake", "--build", str(build), "--target", "liteattn", "-j",
                                   os.environ.get("LITEATTN_BUILD_JOBS", "2")])
            src = build / "libliteattn.so"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src.resolve(), target)


# Build outputs go beside the C library's build dirs (ignored), not into python/.
OPTIONS = ({"build": {"build_base": str(REPO / "build-python" / "setuptools")}}
           if (REPO / "CMakeLists.txt").is_file() else {})

setup(cmdclass={"build_py": BuildWithLibrary}, options=OPTIONS)
