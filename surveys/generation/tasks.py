"""Celery tasks of the generation app: interfaces that take ids (docs/conventions.md §6).

Batches run on gpu workers, inspection on inspect workers, notifications on default workers
(CELERY_TASK_ROUTES); the web process only enqueues them.
"""

import importlib.util
import logging

from celery import shared_task
from django.conf import settings

from surveys.generation import deliveries
from surveys.generation.models import Claim

logger = logging.getLogger(__name__)

# One batch of targets at one layer; generous because reference runs take 5000-24000 steps.
BATCH_SOFT_TIME_LIMIT_S = 6 * 3600
BATCH_TIME_LIMIT_S = BATCH_SOFT_TIME_LIMIT_S + 300
# Past the soft limit the model is refused with a message; the hard limit stops a worker stuck in C code.
INSPECT_SOFT_TIME_LIMIT_S = 300
INSPECT_TIME_LIMIT_S = INSPECT_SOFT_TIME_LIMIT_S + 30
# A notification's delivery: one email or one webhook call (each wait of which is bounded on its own,
# EMAIL_TIMEOUT and WEBHOOK_TIMEOUT_S); a failure is tried again after 5 s, then twice as long each
# time, 8 times (about 21 minutes in all), then given up.
NOTIFY_SOFT_TIME_LIMIT_S = 60
NOTIFY_TIME_LIMIT_S = NOTIFY_SOFT_TIME_LIMIT_S + 30
NOTIFY_RETRIES = 8
NOTIFY_FIRST_RETRY_S = 5


@shared_task(bind=True, name="generation.batch_run", acks_late=True, reject_on_worker_lost=True,
             max_retries=None, soft_time_limit=BATCH_SOFT_TIME_LIMIT_S, time_limit=BATCH_TIME_LIMIT_S)
def generation_batch_run(self, batch_id: int) -> None:
    from surveys.generation import runner  # lazy: loads torch, which only a worker that runs this may pay for

    if runner.batch_run(batch_id=batch_id) is Claim.HELD:
        # Held under a fresh lease: its worker is alive (then the retry finds the batch closed) or
        # was killed moments ago (then the retry claims it). Dropping the task would strand it.
        raise self.retry(countdown=settings.IRIS_BATCH_LEASE_S)


# Not redelivered when its worker dies: a checkpoint that kills the process inspecting it would
# otherwise kill every inspect worker in turn. Its model then stays inspecting (docs/deploy.md).
@shared_task(name="generation.model_inspect", acks_late=True, reject_on_worker_lost=False,
             soft_time_limit=INSPECT_SOFT_TIME_LIMIT_S, time_limit=INSPECT_TIME_LIMIT_S)
def generation_model_inspect(model_id: int) -> None:
    """Inspect the checkpoint of a model registered as inspecting, for a web process that has no
    torch, and record it ready or refused (runner.model_inspect)."""
    from surveys.generation import runner  # lazy: loads torch, which only a worker that runs this may pay for

    runner.model_inspect(model_id=model_id)


@shared_task(bind=True, name="generation.notification_deliver", acks_late=True, max_retries=NOTIFY_RETRIES,
             soft_time_limit=NOTIFY_SOFT_TIME_LIMIT_S, time_limit=NOTIFY_TIME_LIMIT_S)
def generation_notification_deliver(self, delivery_id: int) -> None:
    try:
        deliveries.delivery_send(delivery_id=delivery_id)
    except deliveries.DeliveryFailed as failure:
        if failure.retry and self.request.retries < NOTIFY_RETRIES:
            deliveries.delivery_error_record(delivery_id=delivery_id, error=str(failure))
            raise self.retry(countdown=NOTIFY_FIRST_RETRY_S * 2 ** self.request.retries) from None
        deliveries.delivery_give_up(delivery_id=delivery_id, error=str(failure))


def worker_device_check() -> None:
    """Stop, before it takes a task, a worker whose IRIS_DEVICE it does not have (``cuda`` without CUDA):
    otherwise it would fail every batch it is given, or, were it to fall back, generate on the CPU
    unnoticed. ``auto`` finding no GPU is allowed and said once, as a warning."""
    if importlib.util.find_spec("torch") is None:
        return  # a worker without the engine (the web image) generates nothing
    from iri_engine.devices import pick_device  # lazy: loads torch, present only on engine workers

    try:
        device = pick_device(settings.IRIS_DEVICE)
    except ValueError as error:
        raise SystemExit(f"IRIS_DEVICE={settings.IRIS_DEVICE}: {error}. This worker does not start.") from None
    if settings.IRIS_DEVICE == "auto" and device.type == "cpu":
        logger.warning("IRIS_DEVICE=auto found no CUDA device: this worker generates on the CPU")
