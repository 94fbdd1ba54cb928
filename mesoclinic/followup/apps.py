from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "mesoclinic.followup"
    verbose_name = "Follow-up and side effects"
