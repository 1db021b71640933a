"""What happens when Kafka gives up on an output record.

faust only logs a failed delivery and then commits the input offsets past it, so the record
would be lost for good. A worker that cannot deliver must not commit: this sensor stops the
process at once (no graceful stop, which could still commit), the supervisor restarts it,
and the restarted worker reprocesses from the last commit — deterministic ids make that
safe. Before a record fails, aiokafka retries it for ``LIVEMOD_PRODUCER_REQUEST_TIMEOUT_S``.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import faust

log = logging.getLogger(__name__)

EXIT_DELIVERY_FAILED = 70  # EX_SOFTWARE


class DeliveryGuard(faust.Sensor):
    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        return topic

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        log.critical("delivery to %s failed after retries (%s: %s); exiting without committing so the "
                     "events are reprocessed after restart", state, type(exc).__name__, exc)
        logging.shutdown()
        os._exit(EXIT_DELIVERY_FAILED)
