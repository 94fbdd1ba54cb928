from typing import Any

from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "mesoclinic.followup"
    verbose_name = "Follow-up and side effects"
    # On the bar: flags are worked through every day, like check-in.
    nav = (("", "Flags", "followup:dashboard", "followup.view"),)

    def ready(self) -> None:
        # The reminders worker runs every half minute and cannot import this app: it
        # announces each pass, and the unanswered follow-ups are flagged then.
        from mesoclinic.reminders.outbox import worker_passed

        worker_passed.connect(_sweep, dispatch_uid="followup.flag_unanswered")


def _sweep(sender: Any, **kwargs: Any) -> None:
    from mesoclinic.followup.services import flag_unanswered

    flag_unanswered()
