"""What the participant side announces to the apps above it, which it may not import (docs/architecture.md):
scoring listens, to check a study's stopping rule (surveys/scoring/recruitment_services.py)."""

from django.dispatch import Signal

# Sent once per session that completes, after its new status is saved; receivers get ``participant``.
participant_completed = Signal()
