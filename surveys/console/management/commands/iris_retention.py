"""`manage.py iris_retention`: past each study's retention period, remove participants' recruitment ids
and keep their answers, anonymous (docs/data-protection.md). Run it daily (cron, a systemd timer);
running it again changes nothing until more sessions come of age."""

from django.core.management.base import BaseCommand

from surveys.trials.withdrawal import retention_apply


class Command(BaseCommand):
    help = "Remove recruitment ids of sessions older than their study's retention period; answers are kept."

    def handle(self, *args, **options):
        entries = retention_apply()
        for entry in entries:
            self.stdout.write(f"{entry.study}: recruitment ids removed from {entry.participants} sessions "
                              f"({entry.reference}).")
        self.stdout.write(f"{len(entries)} studies had sessions past their retention period.")
