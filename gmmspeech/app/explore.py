"""Looking at a corpus before training: extract its features (``features``), choose K (``select``)."""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.featstore import FeatureCache, compute_features
from ..data.manifest import Utterance, read_manifest
from ..infra.errors import GmmspeechError, UsageError
from ..infra.outputs import check_output_file
from ..model.selection import PLOT_MISSING, SelectionTable, format_selection, plot_selection, select_per_class
from .pipeline import SchedulerNeedsCache, group_by_class
from .recipe import RecipeError, load_recipe
from .settings import Settings

__all__ = ["extract_manifest", "select_for_manifest", "select_inputs", "SelectResult", "PlotUnavailable"]


class PlotUnavailable(GmmspeechError, ImportError):
    """A plot was asked for but matplotlib (the ``plot`` extra) is not installed."""


def extract_manifest(manifest: str | os.PathLike, settings: Settings, *, n_jobs: int | None = None,
                     quiet: bool = False, cache: FeatureCache | None = None,
                     scheduler: str | None = None) -> tuple[dict[str, Any], list[tuple[Utterance, str]]]:
    """Extract the features of every file of a manifest (into the cache); returns ``(summary, errors)``.

    ``summary``: files, ok, failed, from_cache, frames, dims, cache folder, seconds, errors (file, line, reason).
    """
    t0 = time.perf_counter()
    cfg = settings.features
    utts = read_manifest(manifest)
    if scheduler and cache is None:
        raise SchedulerNeedsCache()
    fs = compute_features(utts, cfg, n_jobs=n_jobs, progress=not quiet, desc="features", cache=cache,
                          scheduler=scheduler)
    ok = fs.ok()
    summary = {"files": len(utts), "ok": len(ok), "failed": len(fs.errors), "from_cache": fs.cached,
               "frames": int(sum(len(x) for _, x in ok)), "dims": cfg.n_dims,
               "cache": None if cache is None else str(cache.root), "task": settings.task,
               "seconds": round(time.perf_counter() - t0, 3),
               "errors": [{"file": u.name, "line": u.line, "reason": m} for u, m in fs.errors]}
    return summary, fs.errors


@dataclass
class SelectResult:
    """Tables of :func:`select_for_manifest` (one per class, or one pooled), the settings used, skipped files."""

    tables: list[SelectionTable]
    settings: Settings
    errors: list[tuple[Utterance, str]] = field(default_factory=list)

    def edge_warnings(self) -> list[str]:
        """One line per table and criterion whose best K is the largest (or smallest) K tried: the optimum may lie
        outside the range, so the range should be extended."""
        out = []
        for t in self.tables:
            ks = [r["k"] for r in t.rows]
            if len(ks) < 2:
                continue
            for crit, k in t.best.items():
                if k in (ks[0], ks[-1]):
                    edge = "largest" if k == ks[-1] else "smallest"
                    out.append(f"{t.label or 'pooled'}: the best K by {crit} is the {edge} tried ({k}); the best may "
                               f"lie {'above' if edge == 'largest' else 'below'} it, try "
                               f"{'larger' if edge == 'largest' else 'smaller'} values")
        return out

    def format(self) -> str:
        """The tables as aligned text, ``*`` marking the best K per criterion."""
        return format_selection(self.tables)

    def plot(self, path: str | os.PathLike) -> None:
        """Draw the criteria against K to a PNG; :class:`PlotUnavailable` without matplotlib."""
        try:
            plot_selection(self.tables, path)
        except ImportError as exc:
            raise PlotUnavailable(str(exc)) from None

    def to_dict(self, manifest: str, components: Sequence[int], pooled: bool, heldout: float,
                n_init: int) -> dict[str, Any]:
        """JSON-ready description of the run and its tables."""
        return {"manifest": manifest, "components": sorted(components), "pooled": pooled, "heldout": heldout,
                "seed": self.settings.model.seed, "n_init": n_init, "task": self.settings.task,
                "features": self.settings.features.to_dict(),
                "criteria": "bic = -2 logL + p ln N, aic = -2 logL + 2p (lower is better), p = K-1+2KD; "
                            "heldout = mean log-lik per frame of held-out files (higher is better)",
                "tables": [t.to_dict() for t in self.tables]}


def select_inputs(path: str | os.PathLike, config: str | os.PathLike | None) -> tuple[Path, Path | None]:
    """What ``select`` reads: ``(manifest, config)``. Given a recipe, its training manifest and the recipe itself
    as the settings layer (so ``select RECIPE`` uses the recipe's features); given a manifest, itself and
    ``config``."""
    p = Path(path)
    if p.suffix.lower() != ".toml":
        return p, None if config is None else Path(config)
    if config is not None:
        raise UsageError("select RECIPE takes its settings from the recipe: drop --config (or give a manifest)")
    r = load_recipe(p)
    if r.train is None:
        raise RecipeError(f"{p}: the recipe names no training manifest ([data] train)")
    return r.train, p


def select_for_manifest(manifest: str | os.PathLike, settings: Settings, components: Sequence[int], *,
                        pooled: bool = False, heldout: float = 0.0, n_init: int = 3, n_jobs: int | None = None,
                        quiet: bool = False, cache: FeatureCache | None = None,
                        progress: Callable[[str | None, dict], None] | None = None,
                        plot: str | os.PathLike | None = None) -> SelectResult:
    """Fit a GMM for every candidate K on a manifest's features (per class, or pooled), with ``settings``.

    With ``plot``, the criteria are drawn to that PNG at the end (its folder is checked before any work).
    """
    if plot is not None:
        if importlib.util.find_spec("matplotlib") is None:
            raise PlotUnavailable(f"{plot}: {PLOT_MISSING}")
        check_output_file(plot)
    cfg, mc = settings.features, settings.model
    utts = read_manifest(manifest)
    fs = compute_features(utts, cfg, n_jobs=n_jobs, progress=not quiet, desc="features", cache=cache)
    by_class = group_by_class(utts, fs, "usable")
    tables = select_per_class(by_class, components, pooled=pooled, heldout=heldout, seed=mc.seed,
                              max_iter=mc.iterations, tol=mc.tolerance, var_floor=mc.var_floor,
                              init=mc.init if mc.type == "per_class" else "kmeans++",
                              n_init=n_init, n_jobs=n_jobs, progress=progress)
    res = SelectResult(tables, settings, fs.errors)
    if plot is not None:
        res.plot(plot)
    return res
