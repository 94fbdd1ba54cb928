"""Recording measurements: every scale of the catalogue takes only its own points, a scale
must serve the course, a landmark scale needs its site, a measurement never changes and is
retracted once, with a reason."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from mesoclinic.catalogue.models import OutcomeScale
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.courses.models import CoursePlan
from mesoclinic.outcomes import services
from mesoclinic.outcomes.models import Measurement, MeasurementChangeError, Rater, TimePoint
from mesoclinic.outcomes.testing import measure


def test_the_message_gives_the_scale_and_its_range(catalogue: None) -> None:
    hexsel = OutcomeScale.objects.get(code="hexsel-css")
    with pytest.raises(ValidationError) as refused:
        services.validate_value(hexsel, 16)
    assert refused.value.messages == [
        "Hexsel Cellulite Severity Scale takes values from 0 to 15 in steps of 1; "
        "16 is outside that range."
    ]
    circumference = OutcomeScale.objects.get(code="circumference")
    with pytest.raises(ValidationError, match=r"from 0 to 300 cm in steps of 0\.1; 80\.05 is not"):
        services.validate_value(circumference, "80.05")
    assert services.validate_value(circumference, "80.5") == Decimal("80.5")
    for junk in ("", "abc", "NaN", "Infinity"):
        with pytest.raises(ValidationError, match="is not a number"):
            services.validate_value(circumference, junk)


def test_every_scale_takes_its_points_and_refuses_the_others(catalogue: None) -> None:
    scales = list(OutcomeScale.objects.filter(retired=False))
    assert len(scales) > 20

    @settings(max_examples=400, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        scale = data.draw(st.sampled_from(scales))
        low, high, step = scale.min_value, scale.max_value, scale.step
        points = int((high - low) / step)
        k = data.draw(st.integers(0, points))
        for accepted in (low, high, low + k * step):
            assert services.validate_value(scale, accepted) == accepted
        for refused in (low - step, high + step, low + step / 2, low + k * step + step / 2):
            with pytest.raises(ValidationError) as error:
                services.validate_value(scale, refused)
            assert error.value.messages[0].startswith(f"{scale.label} takes values from")

    check()


def test_a_scale_must_serve_the_course(thigh_plan: CoursePlan, bookable_pat: User) -> None:
    now = timezone.now()
    with pytest.raises(ValidationError, match="does not serve cellulite courses"):
        measure(thigh_plan, 80, now, bookable_pat, scale="circumference")
    # GAIS serves every indication.
    measured = measure(thigh_plan, 3, now, bookable_pat, scale="gais")
    assert measured.time_point == TimePoint.BASELINE
    assert services.scales_for(thigh_plan)[0].code == "hexsel-css"
    assert "circumference" not in {s.code for s in services.scales_for(thigh_plan)}


def test_a_landmark_scale_needs_its_site(fat_plan: CoursePlan, bookable_pat: User) -> None:
    with pytest.raises(ValidationError, match="Name the site measured"):
        measure(fat_plan, "92.5", timezone.now(), bookable_pat, site="  ")
    measured = measure(fat_plan, "92.5", timezone.now(), bookable_pat, site=" navel + 5 cm ")
    assert (measured.site, measured.value) == ("navel + 5 cm", Decimal("92.5"))


def test_the_sites_offered_are_the_courses_current_ones_first_used_first(
    fat_plan: CoursePlan, thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    now = timezone.now()
    for days, site in [(4, "left thigh + 15 cm"), (3, "right thigh + 15 cm"), (2, "knee")]:
        measure(fat_plan, "60", now - timedelta(days=days), bookable_pat, site=site)
    measure(fat_plan, "59", now - timedelta(days=1), bookable_pat, site="left thigh + 15 cm")
    knee = Measurement.objects.get(site="knee")
    services.retract_measurement(knee, "Wrong landmark.", bookable_pat)
    scale = fat_plan.indication.primary_scale
    assert scale is not None

    assert services.sites_used(fat_plan, scale) == ["left thigh + 15 cm", "right thigh + 15 cm"]
    # Another course of the same patient has its own sites.
    assert services.sites_used(thigh_plan, scale) == []


def test_every_problem_is_named_at_once(fat_plan: CoursePlan, bookable_pat: User) -> None:
    with pytest.raises(ValidationError) as refused:
        measure(fat_plan, 301, timezone.now() + timedelta(hours=1), bookable_pat, site="")
    assert len(refused.value.messages) == 3
    assert "The time of measurement is in the future." in refused.value.messages


def test_the_rater_is_checked(
    thigh_plan: CoursePlan, bookable_pat: User, asha: User, bob: User
) -> None:
    now = timezone.now()
    with pytest.raises(ValidationError, match="is not a practitioner"):
        measure(thigh_plan, 5, now, bookable_pat, rater=Rater.PRACTITIONER, rated_by=asha)
    with pytest.raises(ValidationError, match="must belong to the course's clinic"):
        measure(thigh_plan, 5, now, bookable_pat, rater=Rater.ASSESSOR, rated_by=bob)
    taken = measure(thigh_plan, 5, now, asha, rater=Rater.PATIENT, scale="satisfaction")
    assert (taken.rater, taken.rated_by, taken.recorded_by) == ("patient", asha, asha)


def test_a_recorded_measurement_is_audited_and_never_changes(
    thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    measured = measure(thigh_plan, 9, timezone.now(), bookable_pat)
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_type="outcomes.Measurement", object_id=str(measured.pk)
    ).exists()
    assert measured.patient_id == thigh_plan.patient_id
    assert measured.clinic_id == thigh_plan.clinic_id

    measured.value = Decimal(4)
    with pytest.raises(MeasurementChangeError):
        measured.save()
    with pytest.raises(MeasurementChangeError):
        measured.save(update_fields=["value"])
    with pytest.raises(MeasurementChangeError):
        Measurement.objects.filter(pk=measured.pk).update(value=4)
    with pytest.raises(MeasurementChangeError):
        measured.delete()
    with pytest.raises(MeasurementChangeError):
        Measurement.objects.filter(pk=measured.pk).delete()
    assert Measurement.objects.get(pk=measured.pk).value == Decimal(9)


def test_a_measurement_is_retracted_once_with_a_reason(
    thigh_plan: CoursePlan, bookable_pat: User, asha: User
) -> None:
    measured = measure(thigh_plan, 9, timezone.now(), bookable_pat)
    with pytest.raises(ValidationError, match="Give the reason"):
        services.retract_measurement(measured, "  ", asha)

    services.retract_measurement(measured, "Typed 9 for 6.", asha)

    stored = Measurement.objects.get(pk=measured.pk)
    assert stored.retracted_at is not None
    assert (stored.retracted_by, stored.retraction_reason) == (asha, "Typed 9 for 6.")
    assert not Measurement.objects.current().filter(pk=measured.pk).exists()
    with pytest.raises(ValidationError, match="retracted already"):
        services.retract_measurement(stored, "Again.", asha)
    # Nor undone or rewritten from below the service.
    with pytest.raises(MeasurementChangeError, match="final"):
        Measurement.objects.filter(pk=measured.pk).update(retracted_at=None)
    stored.retraction_reason = "Another reason."
    with pytest.raises(MeasurementChangeError, match="final"):
        stored.save(update_fields=["retraction_reason"])
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(measured.pk), detail__retracted=True
    ).exists()
