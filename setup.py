"""Build of the fastact extension: one Cython module linking the C kernels.

Flags: -O3 and no -march (a wheel must run on any x86-64), no -ffast-math
(it breaks NaN/inf semantics), -fno-trapping-math (see below), -ffp-contract=off (the kernels rely on each
operation rounding once: TwoSum, Cody-Waite reduction).

Release builds carry no debug info: Python's own CFLAGS usually hold -g, so
-g0 is added after them (the last -g option wins) and the linker drops debug
sections (-Wl,--strip-debug on Linux, -Wl,-S on macOS; nothing with MSVC,
whose release flags have none); the symbol table stays.  This takes the
module from 5.7 MB to 0.8 MB (Linux x86-64, gcc 12); the code is the same.

FASTACT_DEBUG=1 in the environment when the extension is compiled (e.g.
``FASTACT_DEBUG=1 pip install .``) keeps the debug info: -g and no
stripping, for gdb/perf; the optimisation flags are unchanged.  Switching
it in a tree built before recompiles everything.

FASTACT_SANITIZE=address,undefined (any list GCC/Clang's -fsanitize takes)
builds an instrumented extension: -fsanitize=<list> -fno-omit-frame-pointer
-g, UBSan made fatal (-fno-sanitize-recover=undefined), -fno-wrapv (after
Python's -fwrapv, which would switch UBSan's signed-overflow check off), no
stripping, and
the planted bugs of src_c/runtime/planted.c compiled in (FA_SANITIZER_BUILD;
tests/test_sanitizers_catch.py checks that they are reported).  Python
itself is not instrumented, so AddressSanitizer's runtime must be preloaded:
``LD_PRELOAD=$(gcc -print-file-name=libasan.so)
ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 python -m pytest`` (leak
detection off: CPython's own allocations at exit would be reported;
issue 15's leak checks measure RSS instead).  .ci/run does this.

FASTACT_NO_THREADS=1 builds the extension without threads (for platforms
that have none, e.g. WebAssembly, and to test that build): FA_NO_THREADS
is defined, FA_HAVE_PTHREADS is not and nothing is compiled or linked with
-pthread; src_c/runtime/threads.c then runs every call on the calling
thread, ``fastact._native.THREADS_AVAILABLE`` is False and
``fastact.get_num_threads()`` is always 1 (``set_num_threads`` still checks
its argument, then does nothing).  Without it, the pool uses POSIX threads,
or Win32 threads on Windows.  .ci/serial builds and tests this."""

import os
import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# src_c/ops/*.c (op templates, each instantiating itself per dtype and
# level) and src_c/runtime/*.c (dispatch, threads); see README "Layout"
SRC_C = sorted(str(p) for p in Path("src_c").rglob("*.c"))

# keep debug info (see the docstring); any value but "" and "0" turns it on
DEBUG = os.environ.get("FASTACT_DEBUG", "0").strip() not in ("", "0")
# sanitizers to build with (see the docstring); "" for none
SANITIZE = os.environ.get("FASTACT_SANITIZE", "").strip()
# no worker threads (see the docstring); any value but "" and "0" turns it on
NO_THREADS = os.environ.get("FASTACT_NO_THREADS", "0").strip() not in ("", "0")
if SANITIZE and sys.platform == "win32":
    raise SystemExit("FASTACT_SANITIZE: GCC/Clang only (not MSVC)")

macros = [
    ("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION"),
    # built against NumPy 2 (pyproject's build requirement), it must import
    # on the oldest NumPy in pyproject's dependencies: the C API is capped
    # there whatever NumPy 2.x builds it (its default target may rise)
    ("NPY_TARGET_VERSION", "NPY_1_25_API_VERSION"),
]
link_args = []
# worker threads (src_c/runtime/threads.c): Win32 threads on Windows, POSIX
# threads elsewhere; without them everything runs serially
pthread = [] if NO_THREADS else ["-pthread"]
if NO_THREADS:
    macros.append(("FA_NO_THREADS", "1"))
if sys.platform == "win32":
    compile_args = ["/O2", "/fp:precise"]
else:
    if not NO_THREADS:
        macros.append(("FA_HAVE_PTHREADS", "1"))
    link_args += pthread
    compile_args = [
        "-O3",
        "-ffp-contract=off",
        # FP ops may be evaluated speculatively (lets GCC if-convert and
        # vectorise the kernels' selects); results and NaN/inf are unchanged,
        # only the sticky FP exception flags are not meaningful.
        "-fno-trapping-math",
        # Hot loops start on a 32-byte boundary: GCC 12's default left the
        # avx512 float32 sum loop at an 8-byte one, and softmax f32
        # 256x32000 ran 12% slower for it (same instructions; alternating
        # runs of bench/compare_builds.py); layout only, results unchanged.
        "-falign-loops=32",
        "-Wall",
        "-Wno-unused-function",
        *pthread,
    ]
    if SANITIZE:
        # compiles the planted bugs of src_c/runtime/planted.c (the check
        # that the sanitizers report them; nothing in other builds)
        macros.append(("FA_SANITIZER_BUILD", "1"))
        san = [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer"]
        if "undefined" in SANITIZE.split(","):
            san.append("-fno-sanitize-recover=undefined")
        # Python's CFLAGS hold -fwrapv, which defines signed overflow and so
        # turns UBSan's check of it off (the planted bug went unreported)
        compile_args += san + ["-g", "-fno-wrapv"]
        link_args += san
    elif DEBUG:
        compile_args.append("-g")
    else:
        compile_args.append("-g0")
        if sys.platform.startswith("linux"):  # GNU ld, gold, lld
            link_args.append("-Wl,--strip-debug")
        elif sys.platform == "darwin":  # ld64: -s is obsolete there
            link_args.append("-Wl,-S")

ext = Extension(
    "fastact._native",
    sources=["fastact/_native.pyx", *SRC_C],
    include_dirs=[np.get_include(), "src_c", "src_c/include"],
    define_macros=macros,
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    depends=sorted(str(p) for p in Path("src_c").rglob("*") if p.suffix in (".h", ".def", ".c"))
    + ["fastact/include/fastact_api_table.h"],
)


class BuildExt(build_ext):
    """build_ext that recompiles when the flags changed since the last build
    in this tree (FASTACT_DEBUG, FASTACT_SANITIZE, FASTACT_NO_THREADS, or an
    edit of the flags here: setuptools compares timestamps only, not flags)."""

    def run(self):
        stamp = Path(self.build_temp) / "fastact-build-mode"
        mode = repr((compile_args, link_args, macros))
        if not stamp.is_file() or stamp.read_text() != mode:
            self.force = True
        super().run()
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(mode)


setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=cythonize(
        [ext],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    ),
)
