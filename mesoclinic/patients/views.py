"""Staff pages of patient records: thin views over ``services``, scoped by ``tenancy``."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.patients import services
from mesoclinic.patients.forms import (
    AllergyForm,
    ConditionForm,
    EraseForm,
    MedicationForm,
    PatientForm,
    SearchForm,
)
from mesoclinic.patients.models import Patient

PAGE_SIZE = 25


@requires(Perm.PATIENT_VIEW)
def patient_list(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    patients = services.search_patients(scoped(request, Patient), query)
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    services.record_list_view(request, list(page.object_list))
    return render(request, "patients/list.html", {"form": form, "query": query, "page": page})


@requires(Perm.PATIENT_EDIT)
def patient_create(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    assert user.clinic is not None  # staff, as the permission requires
    form = PatientForm(request.POST or None, instance=Patient(clinic=user.clinic))
    if request.method == "POST" and form.is_valid():
        patient = services.save_patient(form.save(commit=False), actor=user, request=request)
        messages.success(request, f"{patient} was added.")
        return redirect("patients:detail", pk=patient.pk)
    status = 400 if form.errors else 200
    return render(request, "patients/form.html", {"form": form}, status=status)


@requires(Perm.PATIENT_EDIT)
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=pk)
    form = PatientForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        services.save_patient(form.save(commit=False), actor=request.user, request=request)  # type: ignore[arg-type]
        messages.success(request, "The changes were saved.")
        return redirect("patients:detail", pk=patient.pk)
    status = 400 if form.errors else 200
    return render(request, "patients/form.html", {"form": form, "patient": patient}, status=status)


def _detail(
    request: HttpRequest, patient: Patient, bound: dict[str, BaseForm] | None = None
) -> HttpResponse:
    forms = {
        "medication_form": MedicationForm(prefix="medication"),
        "allergy_form": AllergyForm(prefix="allergy"),
        "condition_form": ConditionForm(prefix="condition"),
    } | (bound or {})
    context = {
        "record": services.open_record(patient, request=request),
        "can_edit": has_perm(request.user, Perm.PATIENT_EDIT, request),
        "can_export": has_perm(request.user, Perm.PATIENT_EXPORT, request),
        "can_erase": has_perm(request.user, Perm.PATIENT_ERASE, request),
        "can_audit": has_perm(request.user, Perm.AUDIT_VIEW, request),
        "can_trace": has_perm(request.user, Perm.LOT_TRACE, request),
        "can_view_courses": has_perm(request.user, Perm.COURSE_VIEW, request),
        "can_plan_course": has_perm(request.user, Perm.COURSE_PLAN, request),
        "can_manage_feed": has_perm(request.user, Perm.BOOKING_MANAGE, request),
        **forms,
    }
    return render(request, "patients/detail.html", context, status=400 if bound else 200)


@requires(Perm.PATIENT_VIEW)
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_scoped_or_404(request, Patient, pk=pk))


@requires(Perm.PATIENT_EDIT)
@require_POST
def medication_add(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=pk)
    form = MedicationForm(request.POST, prefix="medication")
    if not form.is_valid():
        return _detail(request, patient, {"medication_form": form})
    medication = services.add_medication(
        patient,
        **form.cleaned_data,
        actor=request.user,  # type: ignore[arg-type]
        request=request,
    )
    if medication.is_resolved:
        messages.success(
            request, f"{medication.name} was added, recognised as {medication.resolved_as}."
        )
    else:
        messages.warning(
            request, f"{medication.name} was added but is not in the catalogue: check it by hand."
        )
    return redirect("patients:detail", pk=patient.pk)


@requires(Perm.PATIENT_EDIT)
@require_POST
def allergy_add(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=pk)
    form = AllergyForm(request.POST, prefix="allergy")
    if not form.is_valid():
        return _detail(request, patient, {"allergy_form": form})
    services.add_allergy(patient, **form.cleaned_data, actor=request.user, request=request)  # type: ignore[arg-type]
    messages.success(request, "The allergy was added.")
    return redirect("patients:detail", pk=patient.pk)


@requires(Perm.PATIENT_EDIT)
@require_POST
def condition_add(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=pk)
    form = ConditionForm(request.POST, prefix="condition")
    if not form.is_valid():
        return _detail(request, patient, {"condition_form": form})
    services.add_condition(patient, **form.cleaned_data, actor=request.user, request=request)  # type: ignore[arg-type]
    messages.success(request, "The condition was added.")
    return redirect("patients:detail", pk=patient.pk)


@requires(Perm.AUDIT_VIEW)
def patient_audit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=pk)
    events = Paginator(services.audit_trail(patient), 50).get_page(request.GET.get("page"))
    return render(request, "patients/audit.html", {"patient": patient, "page": events})


@requires(Perm.PATIENT_EXPORT)
@require_POST
def patient_export(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=pk)
    data = services.record_export(patient, request=request)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="patient-{patient.pk}.json"'
    return response


@requires(Perm.PATIENT_ERASE)
def patient_erase(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=pk)
    form = EraseForm(request.POST or None)
    if patient.erased_at is not None:
        form.add_error(None, "This patient's identity has already been erased.")
    elif request.method == "POST" and form.is_valid():
        services.erase_patient(
            patient,
            actor=request.user,  # type: ignore[arg-type]
            reason=form.cleaned_data["reason"],
            request=request,
        )
        messages.success(request, "The patient's identity was erased; clinical rows are kept.")
        return redirect("patients:detail", pk=patient.pk)
    status = 400 if form.errors else 200
    return render(request, "patients/erase.html", {"form": form, "patient": patient}, status=status)
