"""Joining a Ray cluster (the optional ``ray`` extra): ``qa ingest --ray`` and ``qa serve --ray`` share this.

With an address the command joins that cluster; without one it starts a local Ray for the run and stops
it afterwards, so ``--ray`` works on one machine as it does on many.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from qa.errors import UserProblem


class RayMissing(UserProblem):
    """``--ray`` was asked for but Ray is not installed."""


def import_ray():
    try:
        import ray
    except ImportError as e:
        raise RayMissing('Ray is not installed: pip install -e ".[ray]"') from e
    return ray


@contextmanager
def ray_session(address: str | None, num_cpus: int | None = None) -> Iterator[object]:
    """Ray, connected for the block: to ``address``, or to a local Ray started for the block (with
    ``num_cpus``, default all). A Ray the caller had already connected is used and left running."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    except ConnectionError as e:
        raise UserProblem(f"cannot reach the Ray cluster at {address}: {e}") from e
    try:
        yield ray
    finally:
        ray.shutdown()
