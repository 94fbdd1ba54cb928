"""mesoclinic: clinical records and evidence for mesotherapy clinics."""

__version__ = "0.1.0"
