from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "mesoclinic.screening"
    verbose_name = "Screening"
    nav = (("", "Check-in", "screening:today", "screening.run"),)

    def ready(self) -> None:
        # Screening at booking, in the booking's transaction: the booker sees at once what
        # the record says about the date (an NSAID to stop, a licence that lapses by then).
        from mesoclinic.courses.signals import appointment_changed
        from mesoclinic.screening import receivers

        appointment_changed.connect(
            receivers.on_appointment_changed, dispatch_uid="screening.appointment_changed"
        )
