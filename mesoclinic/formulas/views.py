"""Pages of the formula library, products, lots and recalls: thin views over ``services``,
scoped to the signed-in person's clinic by ``tenancy``."""

from __future__ import annotations

import csv
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mesoclinic.clinics.models import Clinic, User
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.formulas import services
from mesoclinic.formulas.forms import (
    SPARE_ROWS,
    ContactForm,
    FormulaForm,
    IngredientForm,
    LotForm,
    LotStatusForm,
    ProductForm,
    RecipeForm,
    component_formset,
    content_formset,
)
from mesoclinic.formulas.models import (
    Formula,
    FormulaVersion,
    Lot,
    LotStatus,
    Product,
    RecallContact,
)
from mesoclinic.patients.models import Patient


def _staff(request: HttpRequest) -> tuple[User, Clinic]:
    user = signed_in_user(request)
    assert user.clinic is not None  # staff, as every permission here requires
    return user, user.clinic


def _can(request: HttpRequest, *perms: Perm) -> dict[str, bool]:
    return {f"can_{perm.name.lower()}": has_perm(request.user, perm, request) for perm in perms}


# --- formulas -----------------------------------------------------------------------------


@requires(Perm.FORMULA_VIEW)
def formula_list(request: HttpRequest) -> HttpResponse:
    formulas = (
        scoped(request, Formula)
        .select_related("author")
        .prefetch_related("indications", "versions")
        .order_by("name")
    )
    indication = request.GET.get("indication", "")
    if indication:
        formulas = formulas.filter(indications__code=indication)
    indications = {i for f in scoped(request, Formula) for i in f.indications.all()}
    context = {
        "formulas": formulas,
        "indication": indication,
        "indications": sorted(indications, key=lambda i: i.label),
        **_can(request, Perm.FORMULA_EDIT),
    }
    return render(request, "formulas/formula_list.html", context)


@requires(Perm.FORMULA_VIEW)
def formula_detail(request: HttpRequest, pk: int) -> HttpResponse:
    formula = get_scoped_or_404(request, Formula, pk=pk)
    return _version_page(request, formula.current_version)


@requires(Perm.FORMULA_VIEW)
def formula_version(request: HttpRequest, version_pk: int) -> HttpResponse:
    return _version_page(request, get_scoped_or_404(request, FormulaVersion, pk=version_pk))


def _version_page(request: HttpRequest, version: FormulaVersion) -> HttpResponse:
    formula = version.formula
    context = {
        "formula": formula,
        "version": version,
        "versions": formula.versions.select_related("created_by").order_by("-number"),
        "is_current": version.pk == formula.current_version.pk,
        **_recipe(services.components_of(version), version.total_volume_ml),
        **_can(request, Perm.FORMULA_EDIT),
    }
    return render(request, "formulas/formula_detail.html", context)


def _recipe(specs: list[Any], total: Decimal) -> dict[str, Any]:
    """The tables of ``formulas/_composition.html``: each component's volume, the diluent
    that makes up the total, and what the mix contains."""
    volumes = [(spec, spec.volume_in(total)) for spec in specs]
    return {
        "components": volumes,
        "composition": services.composition_of(specs, total),
        "total": total,
        "diluent": total - sum((volume for _, volume in volumes), Decimal(0)),
    }


def _editor(
    request: HttpRequest, clinic: Clinic, formula: Formula | None
) -> tuple[FormulaForm, RecipeForm, Any]:
    if request.method == "POST":
        data = request.POST
        extra = SPARE_ROWS if "add_row" in data else 0
        formset = component_formset(clinic, data)
        if extra:
            # Rebuilt with the rows typed so far plus a spare one; nothing is saved.
            rows = int(data.get("component-TOTAL_FORMS", 0))
            mutable = data.copy()
            mutable["component-TOTAL_FORMS"] = str(rows + 1)
            formset = component_formset(clinic, mutable)
        return FormulaForm(data), RecipeForm(data), formset
    if formula is None:
        return FormulaForm(), RecipeForm(), component_formset(clinic)
    version = formula.current_version
    form = FormulaForm(
        initial={
            "name": formula.name,
            "notes": formula.notes,
            "indications": formula.indications.all(),
            "areas": formula.areas.all(),
        }
    )
    recipe = RecipeForm(
        initial={"total_volume_ml": version.total_volume_ml, "version_notes": version.notes}
    )
    return form, recipe, component_formset(clinic, specs=services.components_of(version))


def _parse(form: FormulaForm, recipe: RecipeForm, formset: Any) -> list[Any] | None:
    """The recipe's components, or None with the errors put on the forms."""
    valid = all([form.is_valid(), recipe.is_valid(), formset.is_valid()])
    if not valid:
        return None
    try:
        specs: list[Any] = formset.specs()
    except ValidationError as error:
        recipe.add_error(None, error)
        return None
    return specs


@requires(Perm.FORMULA_EDIT)
def formula_create(request: HttpRequest) -> HttpResponse:
    user, clinic = _staff(request)
    form, recipe, formset = _editor(request, clinic, None)
    if request.method == "POST" and "add_row" not in request.POST:
        specs = _parse(form, recipe, formset)
        if specs is not None:
            try:
                formula = services.create_formula(
                    clinic=clinic,
                    name=form.cleaned_data["name"],
                    author=user,
                    components=specs,
                    total_volume_ml=recipe.cleaned_data["total_volume_ml"],
                    indications=form.cleaned_data["indications"],
                    areas=form.cleaned_data["areas"],
                    notes=form.cleaned_data["notes"],
                    version_notes=recipe.cleaned_data["version_notes"],
                    actor=user,
                    request=request,
                )
            except ValidationError as error:
                recipe.add_error(None, error)
            else:
                messages.success(request, f"{formula} was saved as version 1.")
                return redirect("formulas:detail", pk=formula.pk)
    return _editor_page(request, None, form, recipe, formset)


@requires(Perm.FORMULA_EDIT)
def formula_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user, clinic = _staff(request)
    formula = get_scoped_or_404(request, Formula, pk=pk)
    form, recipe, formset = _editor(request, clinic, formula)
    if request.method == "POST" and "add_row" not in request.POST:
        specs = _parse(form, recipe, formset)
        if specs is not None:
            before = formula.current_version
            try:
                services.update_formula_details(
                    formula,
                    name=form.cleaned_data["name"],
                    notes=form.cleaned_data["notes"],
                    indications=form.cleaned_data["indications"],
                    areas=form.cleaned_data["areas"],
                    actor=user,
                    request=request,
                )
                version = services.save_formula_edit(
                    formula,
                    specs,
                    user,
                    total_volume_ml=recipe.cleaned_data["total_volume_ml"],
                    notes=recipe.cleaned_data["version_notes"],
                    request=request,
                )
            except ValidationError as error:
                recipe.add_error(None, error)
            else:
                if version.pk != before.pk:
                    messages.success(
                        request,
                        f"Version {before.number} had been used, so the recipe was saved as "
                        f"version {version.number}; charts keep pointing to version "
                        f"{before.number}.",
                    )
                else:
                    messages.success(request, "The changes were saved.")
                return redirect("formulas:detail", pk=formula.pk)
    return _editor_page(request, formula, form, recipe, formset)


def _editor_page(
    request: HttpRequest,
    formula: Formula | None,
    form: FormulaForm,
    recipe: RecipeForm,
    formset: Any,
) -> HttpResponse:
    context = {
        "formula": formula,
        "current": formula.current_version if formula else None,
        "form": form,
        "recipe": recipe,
        "formset": formset,
        "preview": _preview(recipe, formset) if request.method == "POST" else None,
    }
    if formula is not None and request.method != "POST":
        version = formula.current_version
        context["preview"] = _recipe(services.components_of(version), version.total_volume_ml)
    refused = request.method == "POST" and "add_row" not in request.POST
    return render(request, "formulas/formula_form.html", context, status=400 if refused else 200)


def _preview(recipe: RecipeForm, formset: Any) -> dict[str, Any]:
    """The composition of what was typed, or every reason it cannot be right."""
    if not (recipe.is_valid() and formset.is_valid()):
        return {"errors": ["Some values are not numbers; see the rows marked below."]}
    try:
        specs = formset.specs()
        total = recipe.cleaned_data["total_volume_ml"]
        services.validate_components(formset.clinic, specs, total)
    except ValidationError as error:
        return {"errors": error.messages}
    return _recipe(specs, total)


@requires(Perm.FORMULA_EDIT)
@require_POST
def formula_preview(request: HttpRequest) -> HttpResponse:
    """The editor's live composition table (HTMX): what the typed recipe contains in total,
    or what is wrong with it, before anything is saved."""
    _, clinic = _staff(request)
    preview = _preview(RecipeForm(request.POST), component_formset(clinic, request.POST))
    return render(request, "formulas/_composition_preview.html", {"preview": preview})


# --- ingredients and products ---------------------------------------------------------------


@requires(Perm.FORMULA_VIEW)
def ingredient_list(request: HttpRequest) -> HttpResponse:
    user, clinic = _staff(request)
    form = IngredientForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not has_perm(user, Perm.STOCK_MANAGE, request):
            return HttpResponse("Your role does not allow adding ingredients.", status=403)
        if form.is_valid():
            try:
                ingredient = services.add_ingredient(
                    clinic=clinic, **form.cleaned_data, actor=user, request=request
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"{ingredient} was added to this clinic's ingredients.")
                return redirect("formulas:ingredients")
        status = 400
    ingredients = services.ingredients_for(clinic).select_related("ingredient_class")
    context = {"ingredients": ingredients, "form": form, **_can(request, Perm.STOCK_MANAGE)}
    return render(request, "formulas/ingredient_list.html", context, status=status)


@requires(Perm.FORMULA_VIEW)
def product_list(request: HttpRequest) -> HttpResponse:
    products = scoped(request, Product).prefetch_related("contents__ingredient", "lots")
    context = {"products": products, **_can(request, Perm.STOCK_MANAGE)}
    return render(request, "formulas/product_list.html", context)


@requires(Perm.STOCK_MANAGE)
def product_create(request: HttpRequest) -> HttpResponse:
    user, clinic = _staff(request)
    form = ProductForm(request.POST or None)
    contents = content_formset(clinic, request.POST or None)
    if request.method == "POST" and form.is_valid() and contents.is_valid():
        try:
            product = services.create_product(
                clinic=clinic,
                **form.cleaned_data,
                contents=contents.contents(),
                actor=user,
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{product} was added.")
            return redirect("formulas:product", pk=product.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "contents": contents}
    return render(request, "formulas/product_form.html", context, status=status)


@requires(Perm.FORMULA_VIEW)
def product_detail(request: HttpRequest, pk: int, lot_form: LotForm | None = None) -> HttpResponse:
    product = get_scoped_or_404(request, Product, pk=pk)
    _, clinic = _staff(request)
    context = {
        "product": product,
        "contents": product.contents.select_related("ingredient"),
        "lots": _lot_rows(product.lots.all(), clinic),
        "lot_form": lot_form or LotForm(initial={"received_on": clinic.today()}),
        **_can(request, Perm.STOCK_MANAGE),
    }
    return render(request, "formulas/product_detail.html", context, status=400 if lot_form else 200)


@requires(Perm.STOCK_MANAGE)
@require_POST
def lot_receive(request: HttpRequest, product_pk: int) -> HttpResponse:
    user, _ = _staff(request)
    product = get_scoped_or_404(request, Product, pk=product_pk)
    form = LotForm(request.POST)
    if form.is_valid():
        try:
            lot = services.receive_lot(
                product=product, **form.cleaned_data, actor=user, request=request
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Lot {lot.lot_number} was received.")
            return redirect("formulas:lot", pk=lot.pk)
    return product_detail(request, product.pk, lot_form=form)


# --- lots, trace and recall -----------------------------------------------------------------


def _lot_rows(lots: Any, clinic: Clinic) -> list[dict[str, Any]]:
    today = clinic.today()
    rows = []
    for lot in lots:
        check = services.lot_usable(lot, today)
        if lot.status != LotStatus.ACTIVE:
            badge = ("bad", lot.get_status_display())
        elif not check.ok:
            badge = ("bad", "Expired" if lot.expiry_date < today else "Not yet received")
        elif services.expires_soon(lot, today):
            badge = ("warn", "Expires soon")
        else:
            badge = ("ok", "Usable")
        rows.append({"lot": lot, "check": check, "badge": badge})
    return rows


@requires(Perm.FORMULA_VIEW)
def lot_list(request: HttpRequest) -> HttpResponse:
    _, clinic = _staff(request)
    lots = scoped(request, Lot).select_related("product").order_by("expiry_date", "lot_number")
    status = request.GET.get("status", "")
    if status in LotStatus.values:
        lots = lots.filter(status=status)
    context = {
        "rows": _lot_rows(lots, clinic),
        "status": status,
        "statuses": LotStatus.choices,
        "near_expiry_days": services.NEAR_EXPIRY_DAYS,
    }
    return render(request, "formulas/lot_list.html", context)


@requires(Perm.FORMULA_VIEW)
def lot_detail(
    request: HttpRequest,
    pk: int,
    status_form: LotStatusForm | None = None,
    contact_forms: dict[int, ContactForm] | None = None,
) -> HttpResponse:
    lot = get_scoped_or_404(request, Lot, pk=pk)
    _, clinic = _staff(request)
    can = _can(request, Perm.LOT_STATUS, Perm.LOT_TRACE)
    contacts = list(services.recall_contacts(lot)) if can["can_lot_trace"] else []
    bound = contact_forms or {}
    context = {
        "lot": lot,
        "row": _lot_rows([lot], clinic)[0],
        "uses": services.open_trace(lot, request=request) if can["can_lot_trace"] else None,
        "contacts": [
            (c, bound.get(c.pk) or ContactForm(prefix=f"contact-{c.pk}")) for c in contacts
        ],
        "contacts_open": sum(1 for c in contacts if c.status == "to_contact"),
        "status_form": status_form or LotStatusForm(),
        "status_actions": services.status_actions(lot),
        **can,
    }
    refused = status_form is not None or bool(contact_forms)
    return render(request, "formulas/lot_detail.html", context, status=400 if refused else 200)


@requires(Perm.LOT_STATUS)
@require_POST
def lot_status(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    lot = get_scoped_or_404(request, Lot, pk=pk)
    form = LotStatusForm(request.POST)
    if form.is_valid():
        change = {
            "quarantine": services.quarantine_lot,
            "recall": services.recall_lot,
            "release": services.release_lot,
        }[form.cleaned_data["action"]]
        try:
            lot = change(lot, form.cleaned_data["reason"], user, request=request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"Lot {lot.lot_number} is now {lot.get_status_display().lower()}."
            )
            return redirect("formulas:lot", pk=lot.pk)
    return lot_detail(request, lot.pk, status_form=form)


@requires(Perm.LOT_TRACE)
def lot_trace_csv(request: HttpRequest, pk: int) -> HttpResponse:
    lot = get_scoped_or_404(request, Lot, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    safe_number = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in lot.lot_number)
    response["Content-Disposition"] = f'attachment; filename="lot-{safe_number}-patients.csv"'
    writer = csv.writer(response)
    writer.writerow(services.TRACE_CSV_HEADER)
    writer.writerows(services.trace_rows(lot, request=request))
    return response


@requires(Perm.LOT_TRACE)
@require_POST
def contact_update(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    contact = get_scoped_or_404(request, RecallContact, pk=pk)
    form = ContactForm(request.POST, prefix=f"contact-{contact.pk}")
    if form.is_valid():
        try:
            services.record_contact(contact, **form.cleaned_data, actor=user, request=request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"The contact with {contact.patient} was recorded.")
            return redirect("formulas:lot", pk=contact.lot_id)
    return lot_detail(request, contact.lot_id, contact_forms={contact.pk: form})


@requires(Perm.LOT_TRACE)
def patient_lots(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """Every lot a patient received: what to check when a product is recalled later."""
    patient = get_scoped_or_404(request, Patient, pk=patient_pk)
    uses = list(services.open_lots_for_patient(patient, request=request))
    return render(request, "formulas/patient_lots.html", {"patient": patient, "uses": uses})
