"""Create the pipeline's topics up front (same partition count everywhere: co-partitioned)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from warning.config import Settings

log = logging.getLogger(__name__)


def bootstrap_servers(url: str) -> list[str]:
    """``kafka://h1:9092;kafka://h2:9092`` → ``["h1:9092", "h2:9092"]``."""
    return [p.strip().removeprefix("kafka://") for p in url.split(";") if p.strip()]


def all_topics(settings: Settings) -> list[str]:
    t = settings.topics
    return [*settings.raw_topics().values(), t.events, t.deadletter, t.alerts, t.alerts_deadletter, t.feedback, t.alerts_feedback,
            settings.rekey_topic(), settings.feedback_audit_topic(), settings.deliver_budget_topic(),
            settings.deliver_spent_topic()]


def kept_forever(settings: Settings) -> set[str]:
    """Topics whose records are history, created with ``retention.ms=-1``: alerts and alert
    feedback rebuild the history database, and a worker restoring silences reads the feedback
    topic back (a silence lasts up to 30 days); the shared delivery budget's hand-on topic is the
    outbox of robot alerts already acked on ``warning.alerts`` (a time retention could delete
    hand-ons no worker has delivered yet). All are small (alerts, not events)."""
    return {settings.topics.alerts, settings.topics.alerts_feedback, settings.deliver_budget_topic()}


def retention_ms(settings: Settings) -> dict[str, str]:
    """Topics with a retention of their own: the spend ledger of the shared delivery budget is read
    back only for the last rate-limit window (:mod:`warning.streams.budget`)."""
    return {settings.deliver_spent_topic(): str(24 * 3600 * 1000)}


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> None:
    """Create missing topics with ``kafka.partitions`` partitions; wait until metadata shows them."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    servers = bootstrap_servers(settings.kafka.broker)
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=servers, client_id=f"{settings.kafka.client_id}-admin", request_timeout_ms=10000)
            break
        except Exception as e:  # broker not up yet
            last = e
            time.sleep(0.5)
    else:
        raise RuntimeError(f"cannot reach Kafka at {settings.kafka.broker}: {last}")
    try:
        existing = set(admin.list_topics())
        wanted = [n for n in all_topics(settings) if n not in existing]
        if wanted:
            keep = kept_forever(settings)
            short = retention_ms(settings)
            new = [NewTopic(n, settings.kafka.partitions, settings.kafka.replication_factor,
                            topic_configs={"retention.ms": "-1"} if n in keep else
                            {"retention.ms": short[n]} if n in short else {}) for n in wanted]
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
            except Exception as e:
                # Some brokers report per-topic errors in bulk; retry one by one.
                log.debug("bulk create failed (%s), retrying per topic", e)
                for nt in new:
                    try:
                        admin.create_topics([nt])
                    except TopicAlreadyExistsError:
                        pass
            while time.monotonic() < deadline:
                if set(wanted) <= set(admin.list_topics()):
                    break
                time.sleep(0.2)
            log.info("created topics %s", ", ".join(wanted))
        check_partitions(settings, admin, admin.list_topics())
    finally:
        admin.close()


class TopicLayoutError(RuntimeError):
    """Existing topics do not match the configured partition count."""


def changelog_topics(settings: Settings, existing: Iterable[str]) -> list[str]:
    """The changelog topics of this app's state tables among ``existing`` (Faust names them
    ``<app_id>-<table>-changelog``).

    >>> from warning.config import load_settings
    >>> changelog_topics(load_settings(None, env={}), ["warning-detect-changelog", "warning.events",
    ...                  "warning-shadow-detect-changelog", "warning-__assignor-__leader"])
    ['warning-detect-changelog']
    """
    app = settings.worker.app_id
    return sorted(n for n in existing if n.startswith(app + "-") and n.endswith("-changelog")
                  and "-" not in n[len(app) + 1: -len("-changelog")])


def check_partitions(settings: Settings, admin: object, existing: Iterable[str] = ()) -> None:
    """All pipeline topics must have ``kafka.partitions`` partitions: the ingest dedup table and
    the detection state are co-partitioned with them — and so must the changelogs of this app's
    tables among ``existing`` (a changelog left from a run with another count would restore one
    partition's state into another's). Fail fast, naming the topic, otherwise."""
    logs = changelog_topics(settings, existing)
    desc = admin.describe_topics(all_topics(settings) + logs)  # type: ignore[attr-defined]
    bad, bad_logs = [], []
    for d in desc:
        n = len(d.get("partitions") or [])
        name = d.get("topic") or d.get("name")
        if n and n != settings.kafka.partitions:
            (bad_logs if name in logs else bad).append(f"{name} has {n} partitions")
    if bad_logs:
        raise TopicLayoutError(
            "topic layout error: " + "; ".join(bad_logs) + f" but kafka.partitions = {settings.kafka.partitions}. "
            f"These changelogs hold the state (dedup marks, street baselines) of worker.app_id "
            f"'{settings.worker.app_id}' for the partition count they were made with: run with that count "
            "(WARNING_KAFKA__PARTITIONS), or start a new worker.app_id, whose state is learned afresh."
        )
    if bad:
        raise TopicLayoutError(
            "topic layout error: " + "; ".join(bad) + f" but kafka.partitions = {settings.kafka.partitions}. "
            "All pipeline topics must have the same partition count (create them before producing, or set "
            "WARNING_KAFKA__PARTITIONS to match)."
        )
