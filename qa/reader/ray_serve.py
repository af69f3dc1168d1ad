"""``qa serve --ray``: the reading stage as a Ray Serve deployment of N replicas, batched across requests.

The Litestar app stays the HTTP face and keeps retrieval, the no-answer decision and admission control;
only the reader's forward passes go to the replicas, through ``RemoteReader``, which stands where an
``ExtractiveReader`` stands. Replicas hold no index, so a new snapshot needs nothing from them: the app
switches to it and sends the replicas the new passages.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ray import serve

from qa.errors import TimeUp, UserProblem
from qa.reader import config
from qa.reader.batching import read_grouped
from qa.reader.extractive import ExtractiveReader, SpanAnswer

APP_NAME = "qa-reader"


class ReaderReplica:
    """One reader, loaded once per replica; ``read`` gathers concurrent calls into one ``read_many``."""

    def __init__(self, settings: dict, max_batch: int, wait_s: float) -> None:
        from qa.settings import Settings

        self.reader = ExtractiveReader.from_settings(Settings(**settings))
        self.reader.warm_up()
        self.read.set_max_batch_size(max_batch)
        self.read.set_batch_wait_timeout_s(wait_s)

    @serve.batch
    async def read(self, asks: list[tuple[str, list[str], int]]) -> list[list[list[SpanAnswer]]]:
        got = await asyncio.to_thread(read_grouped, self.reader, asks)
        for r in got:
            if isinstance(r, BaseException):
                raise r
        return got


def start_readers(settings, replicas: int, threads_per_replica: int = 1):
    """Deploy ``replicas`` readers on the connected Ray cluster; returns the deployment's handle."""
    import ray

    cpus = ray.cluster_resources().get("CPU", 0)
    if not settings.ray_address and replicas * threads_per_replica > cpus:  # a local Ray does not grow: it would wait forever
        raise UserProblem(f"{replicas} replicas of {threads_per_replica} CPU need {replicas * threads_per_replica} CPUs; "
                          f"this Ray has {cpus:g} (fewer --replicas, or QA_RAY_REPLICA_THREADS)")
    serve.start(proxy_location="Disabled")
    deployment = serve.deployment(ReaderReplica, name="reader", num_replicas=replicas,
                                  ray_actor_options={"num_cpus": threads_per_replica},
                                  max_ongoing_requests=4 * settings.reader_batch_questions)
    # the reader's settings only travel: the write token stays with the app
    replica_settings = settings.model_dump(mode="json", exclude={"api_token"}) | {"threads": threads_per_replica}
    # replicas always batch: a few milliseconds' wait is small beside a forward pass
    wait_s = max(settings.reader_batch_wait_ms, 5.0) / 1000.0
    return serve.run(deployment.bind(replica_settings, settings.reader_batch_questions, wait_s),
                     name=APP_NAME, route_prefix=None)


class RemoteReader:
    """An ``ExtractiveReader`` whose forward passes run on Ray Serve replicas. The reader's folder is read
    here only for its ``qa_config.json`` (the no-answer policy)."""

    def __init__(self, handle, model_dir: str | Path, no_answer_threshold: float | None = None) -> None:
        self.handle = handle
        self.model_dir = Path(model_dir)
        self.threshold_override = no_answer_threshold
        self.config: dict = {}
        self.runtime_used, self.bf16, self.int8 = "ray", False, False

    @classmethod
    def from_settings(cls, settings, handle) -> "RemoteReader":
        return cls(handle, settings.reader_dir, settings.no_answer_threshold)

    def warm_up(self) -> None:
        if not self.config:
            ExtractiveReader.check_files(self.model_dir)
            self.config = config.read(self.model_dir)

    @property
    def no_answer_threshold(self) -> float:
        return config.no_answer_threshold(self.config, self.threshold_override)

    def read(self, question: str, passages: list[str], top_n: int = 1,
             deadline: float | None = None) -> list[list[SpanAnswer]]:
        if not passages:
            return []
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return self.handle.read.remote((question, passages, top_n)).result(timeout_s=timeout)
        except TimeoutError as e:
            raise TimeUp("the reader replicas did not answer before the deadline") from e


def stop_readers() -> None:
    """Remove the reader deployment (the rest of a shared cluster is left as it was)."""
    serve.delete(APP_NAME)
