"""Benchmark-suite configuration: report what is being measured in the header."""

import os


def pytest_report_header(config):
    try:
        import fastact
    except Exception as exc:  # the suite itself will be skipped
        return [f"fastact: not importable ({type(exc).__name__}: {exc})"]
    import contextlib
    import io

    import numpy as np

    cfg = {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            cfg = fastact.show_config() or {}
    except Exception as exc:
        cfg = {"show_config error": repr(exc)}
    items = ", ".join(f"{k}={v}" for k, v in cfg.items()) if isinstance(cfg, dict) else str(cfg)
    return [
        f"fastact {getattr(fastact, '__version__', '?')} backend={getattr(fastact, 'BACKEND', '?')}"
        f" (FASTACT_BACKEND={os.environ.get('FASTACT_BACKEND', '')!r}), numpy {np.__version__},"
        f" cpus={os.cpu_count()}",
        f"fastact config: {items}",
    ]
