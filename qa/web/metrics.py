"""``/metrics`` in Prometheus's text format (prometheus_client), one registry per app: requests and
latency by route, and what the service is doing now (questions read and waiting, shed, timed out,
dropped) and serving (documents, passages, the service's and the reader's versions, reader runtime).

Questions shed by the gate in front of the app (``admission.ShedGate``) never reach the app: they are
counted in ``qa_questions_shed_total`` and timed in ``qa_shed_seconds``, not in ``qa_http_requests``."""

from __future__ import annotations

import time

from litestar import Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily

from qa.reader import config as reader_config
from qa.version import service_version
from qa.web.admission import SHED_BUCKETS, Admission


class ServiceCollector:
    """Read at scrape time, so the figures are the live ones."""

    def __init__(self, admission: Admission, corpus_of) -> None:
        self.admission = admission
        self.corpus_of = corpus_of  # () -> the LiveCorpus, once the lifespan has made it

    def collect(self):
        s = self.admission.stats
        for name, value, text in (("qa_questions_running", s.running, "questions being read now"),
                                  ("qa_questions_waiting", s.waiting, "questions waiting for a turn (queue depth)"),
                                  ("qa_refusals_held", s.held, "refused questions in their pause before the 503")):
            yield GaugeMetricFamily(name, text, value=value)
        for name, value, text in (("qa_questions_shed_total", s.shed, "questions refused at once (queue full)"),
                                  ("qa_questions_timed_out_total", s.timed_out, "questions past their deadline"),
                                  ("qa_questions_dropped_total", s.dropped, "questions whose client left before their turn")):
            yield GaugeMetricFamily(name, text, value=value)  # counters kept by Admission, exposed as read
        yield GaugeMetricFamily("qa_admission_limit", "questions read at once", value=self.admission.concurrency)
        yield InfoMetricFamily("qa_service", "the service running", value={"version": service_version()})
        cumulative, seen = [], 0
        for bound, count in zip((*map(str, SHED_BUCKETS), "+Inf"), s.shed_times.counts):
            seen += count
            cumulative.append((bound, seen))
        yield HistogramMetricFamily("qa_shed_seconds", "a refused question's own time in the server, from the gate "
                                    "to its last byte handed to the connection, less the pause a refusal may be held for", buckets=cumulative,
                                    sum_value=s.shed_times.total)
        corpus = self.corpus_of()
        if corpus is not None:
            index = corpus.pipeline.retriever.index
            yield GaugeMetricFamily("qa_index_documents", "documents served", value=len(index.documents))
            yield GaugeMetricFamily("qa_index_passages", "passages served", value=len(index.passages))
            cache = corpus.pipeline.cache.stats()  # this snapshot's: a new snapshot starts from zero
            yield GaugeMetricFamily("qa_answer_cache_entries", "answers held for repeated questions", value=cache.size)
            yield GaugeMetricFamily("qa_answer_cache_hits", "questions answered from the cache (this snapshot)",
                                    value=cache.hits)
            yield GaugeMetricFamily("qa_answer_cache_misses", "questions read (this snapshot)", value=cache.misses)
            reader = corpus.pipeline.reader
            info = InfoMetricFamily("qa_reader", "the reader being served")
            info.add_metric([], {"version": reader_config.version(reader.config) or "",  # "": it names none
                                 "runtime": reader.runtime_used, "bf16": str(reader.bf16).lower(),
                                 "int8": str(reader.int8).lower(), "snapshot": (index.source or ("", "memory"))[1]})
            yield info


class Metrics:
    def __init__(self, admission: Admission, corpus_of) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("qa_http_requests", "HTTP requests by route and status", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("qa_http_request_seconds", "HTTP request latency by route", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.registry.register(ServiceCollector(admission, corpus_of))

    async def observe(self, request: Request) -> None:
        """After each response (an ``after_response`` hook)."""
        route = request.scope.get("path_template") or "unmatched"
        status = request.scope.get("state", {}).get("status", 0)
        self.requests.labels(request.method, route, str(status)).inc()
        started = request.scope.get("state", {}).get("started")
        if started is not None:
            self.latency.labels(request.method, route).observe(time.perf_counter() - started)
