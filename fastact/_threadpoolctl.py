"""Makes fastact's worker threads visible to threadpoolctl: registered when
fastact is imported and threadpoolctl is installed, so that
``threadpool_info()`` lists fastact and ``threadpool_limits(n)`` (or
``threadpool_limits(n, user_api="fastact")``) caps its thread count like
BLAS and OpenMP pools.  A limit above ``fastact.MAX_THREADS`` (256) is
clamped to it."""

from __future__ import annotations

from threadpoolctl import LibController, register


class FastactController(LibController):
    user_api = "fastact"
    internal_api = "fastact"
    filename_prefixes = ("_native",)  # fastact/_native.<abi>.so
    # Other packages ship "_native" modules too (hypothesis does): threadpoolctl
    # keeps a library for this controller only if it exports one of these, so
    # theirs are not listed as fastact pools.
    check_symbols = ("fa_get_num_threads", "fa_set_num_threads")

    def _ours(self) -> bool:
        # the same check, for threadpoolctl versions that ignore check_symbols
        return hasattr(self.dynlib, "fa_get_num_threads")

    def get_num_threads(self):
        return self.dynlib.fa_get_num_threads() if self._ours() else None

    def set_num_threads(self, num_threads):
        if self._ours():
            self.dynlib.fa_set_num_threads(int(num_threads))

    def get_version(self):
        if not self._ours():
            return None
        from . import __version__

        return __version__


register(FastactController)
