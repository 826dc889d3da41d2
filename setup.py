"""Build hook for the one compiled part: the X12 element checks in hub/edi/x12/_accel.pyx.

Everything else is in pyproject.toml.  The extension is optional: without
Cython or a working C compiler the package installs without it and the
validator uses its pure-Python checkers (same findings, slower; see
hub/edi/x12/accel.py).  ``Extension(optional=True)`` alone is not enough for
that: a compiler that fails to run raises errors setuptools does not treat as
build errors, so :class:`OptionalBuildExt` catches them.
"""

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Build the extensions if this machine can; otherwise say so and install without them."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001 - any failure: the pure-Python path serves
            self.warn(f"{ext.name} not built ({exc.__class__.__name__}: {exc}); the pure-Python checkers serve")
            self._failed = [*getattr(self, "_failed", []), ext.name]

    def copy_extensions_to_source(self):
        failed = set(getattr(self, "_failed", []))
        kept = self.extensions
        self.extensions = [ext for ext in kept if ext.name not in failed]
        try:
            super().copy_extensions_to_source()
        finally:
            self.extensions = kept

    def get_outputs(self):
        failed = set(getattr(self, "_failed", []))
        return [path for path in super().get_outputs()
                if not any(os.path.basename(path).startswith(name.rsplit(".", 1)[-1] + ".") for name in failed)]


try:
    from Cython.Build import cythonize
except ImportError:  # pragma: no cover - Cython is a build requirement in pyproject.toml
    ext_modules = []
else:
    ext_modules = cythonize(
        [Extension("hub.edi.x12._accel", ["hub/edi/x12/_accel.pyx"], optional=True)],
        language_level=3,
        quiet=True,
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
