from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "mesoclinic.reminders"
    verbose_name = "Reminders"
    nav = (("Follow-up", "Reminders", "reminders:list", "course.view"),)

    def ready(self) -> None:
        # The courses and patients apps come first and cannot know about reminders: the
        # outbox follows their changes through signals, inside the same transactions.
        from django.db.models.signals import post_save

        from mesoclinic.courses.models import MaintenanceRecall
        from mesoclinic.courses.signals import appointment_changed
        from mesoclinic.patients.models import Patient
        from mesoclinic.reminders import planner

        appointment_changed.connect(
            planner.on_appointment_changed, dispatch_uid="reminders.appointment_changed"
        )
        post_save.connect(
            planner.on_recall_saved, sender=MaintenanceRecall, dispatch_uid="reminders.recall"
        )
        post_save.connect(
            planner.on_patient_saved, sender=Patient, dispatch_uid="reminders.patient"
        )
