from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "mesoclinic.evidence"
    verbose_name = "Evidence"
    nav = (
        ("Evidence", "Outcomes by formula", "evidence:outcomes", "evidence.view"),
        ("Evidence", "Side-effect rates", "evidence:safety", "evidence.view"),
        ("Evidence", "Outbreak alerts", "evidence:alerts", "alert.view"),
        ("Evidence", "Research export", "evidence:export", "research.view"),
    )

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from mesoclinic.evidence.outbreaks import on_event_saved
        from mesoclinic.followup.models import AdverseEvent

        # An infection recorded, changed or retracted: scan its clinic for an outbreak.
        post_save.connect(on_event_saved, sender=AdverseEvent, dispatch_uid="evidence-outbreaks")
