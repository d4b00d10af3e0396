"""Telling a study's owner of what happened to it (docs/notifications.md), through the one service
that sends notifications (surveys/generation/notifications.py). Callers above, in trials and scoring:

- trials, when a participant's completion fills the study (``NotificationEvent.STUDY_FILLED``);
- scoring's stopping rule, when it closes a study on reaching its interval target
  (``NotificationEvent.STUDY_TARGET_REACHED``),
  with the reason it recorded as ``detail``.
"""

from django.urls import reverse

from surveys.generation.models import Notification, NotificationEvent
from surveys.generation.notifications import notification_send, site_link
from surveys.studies.models import Study

STUDY_SUMMARIES = {
    NotificationEvent.STUDY_FILLED: "Study {name!r} has every participant its design asks for",
    NotificationEvent.STUDY_TARGET_REACHED: "Study {name!r} closed: it reached its interval target",
}


def study_notify(*, study: Study, event: NotificationEvent, detail: str = "") -> Notification | None:
    """Tell the study's owner of ``event`` (one of STUDY_SUMMARIES'), once per study."""
    return notification_send(event=event, owner=study.owner, about=f"study:{study.pk}",
                             summary=STUDY_SUMMARIES[event].format(name=study.name), detail=detail,
                             url=site_link(reverse("admin:studies_study_change", args=[study.pk])))
