"""Build hook for the one compiled part: the X12 element checks in hub/edi/x12/_accel.pyx.

Everything else is in pyproject.toml.  The extension is optional: without
Cython or a C compiler the package installs without it and the validator uses
its pure-Python checkers (same findings, slower; see hub/edi/x12/accel.py).
"""

from setuptools import Extension, setup

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

setup(ext_modules=ext_modules)
