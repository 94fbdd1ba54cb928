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
