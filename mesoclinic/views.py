from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from mesoclinic.clinics.models import Role
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user


@require_GET
@requires(Perm.HOME)
def home(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if user.role == Role.PATIENT:
        return redirect("portal:home")
    context = {
        "clinic": user.clinic,
        "researcher": has_perm(user, Perm.RESEARCH_VIEW, request),
    }
    return render(request, "home.html", context)


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers: answers 200 only when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
