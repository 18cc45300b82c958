"""matplotlib, imported only when a plot is drawn (the ``plot`` extra), on the file-only Agg backend."""

from __future__ import annotations

__all__ = ["agg_figure_class"]


def agg_figure_class(missing: str):
    """matplotlib's ``Figure`` class on the file-only Agg backend; ``ImportError(missing)`` without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(missing) from None
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure
