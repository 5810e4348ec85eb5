"""Build of tests/test_capi.py's extension (probe.pyx + plain.c) against an
installed fastact: `python setup.py build_ext --inplace`, as a user's
setup.py would.  The header directory and the directory holding
fastact/capi.pxd come from FASTACT_CAPI_INCLUDE / FASTACT_CAPI_PXD_ROOT
(the test passes the fastact under test's get_include() and its package's
parent: this process need not import it, which a sanitizer build could not
without its preloaded runtime), else from `import fastact`.  OpenMP (for
prange) when the compiler takes it: probed with the very compiler
setuptools uses; the outcome goes to openmp.txt ("yes", or "no: <why>")."""

import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
OPENMP = ["/openmp"] if sys.platform == "win32" else ["-fopenmp"]
INCLUDE = os.environ.get("FASTACT_CAPI_INCLUDE")
# the package's parent directory: where Cython finds fastact/capi.pxd
PXD_ROOT = os.environ.get("FASTACT_CAPI_PXD_ROOT")
if not INCLUDE or not PXD_ROOT:
    import fastact

    INCLUDE = fastact.get_include()
    PXD_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastact.__file__)))


class BuildExt(build_ext):
    def build_extensions(self):
        probe = os.path.join(self.build_temp, "omp_probe.c")
        os.makedirs(self.build_temp, exist_ok=True)
        with open(probe, "w") as f:
            f.write("#include <omp.h>\nint probe(void) { return omp_get_max_threads(); }\n")
        try:
            objs = self.compiler.compile([probe], output_dir=self.build_temp,
                                         extra_postargs=OPENMP)
            self.compiler.link_shared_object(objs, os.path.join(self.build_temp, "omp_probe.so"),
                                             extra_postargs=OPENMP)
            found = "yes"
        except Exception as exc:  # CompileError / LinkError: no OpenMP here
            found = f"no: {type(exc).__name__}: {exc}"
        with open(os.path.join(HERE, "openmp.txt"), "w") as f:
            f.write(found)
        if found == "yes":
            for ext in self.extensions:
                ext.extra_compile_args += OPENMP
                ext.extra_link_args += OPENMP
        super().build_extensions()


ext = Extension(
    "probe",
    sources=["probe.pyx", "plain.c"],
    include_dirs=[INCLUDE, HERE],
    extra_compile_args=[] if sys.platform == "win32" else ["-O1"],
    extra_link_args=[],
)
setup(
    name="fastact-capi-probe",
    cmdclass={"build_ext": BuildExt},
    ext_modules=cythonize([ext], include_path=[PXD_ROOT], quiet=True,
                          compiler_directives={"language_level": "3"}),
)
