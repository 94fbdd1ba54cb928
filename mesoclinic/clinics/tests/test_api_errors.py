from django.core.exceptions import ValidationError

from mesoclinic.clinics.api_errors import invalid


def test_a_refusal_becomes_a_422_with_its_messages_joined() -> None:
    error = invalid(ValidationError({"dose": ["Too much."], "lot": ["Recalled."]}))
    assert error.status_code == 422
    assert str(error) == "Too much. Recalled."
