"""How the staff patient list and search scale with a large clinic.

Reports each request's time as ratios to two floors measured in the same run: the raw SQL
query for the same page of patients, and the signed-in home page (the cost of any page:
session, second factor, template). Not a test: run it by hand, on SQLite (default, a scratch data
directory) or PostgreSQL (DATABASE_URL naming a scratch database; its tables are created here).

    .venv/bin/python bench/patient_list.py --patients 20000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` runs, after one warm-up run."""
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    os.environ.setdefault("MESOCLINIC_DEBUG", "1")
    os.environ.setdefault("MESOCLINIC_DATA_DIR", tempfile.mkdtemp(prefix="mesoclinic-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mesoclinic.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from mesoclinic.clinics.models import Clinic, Role, User
    from mesoclinic.clinics.testing import sign_in
    from mesoclinic.demo.generator import build_demo

    call_command("migrate", verbosity=0)
    call_command("load_catalogue", verbosity=0)
    if not Clinic.objects.exists():
        started = time.perf_counter()
        build_demo(seed=1952, patients=args.patients, today=date(2026, 11, 25))
        print(f"built {args.patients} patients in {time.perf_counter() - started:.1f} s")
    staff = User.objects.filter(role=Role.ASSISTANT).first()
    assert staff is not None and staff.clinic is not None
    client = sign_in(Client(), staff)
    in_clinic = staff.clinic.patients.count()
    sample = staff.clinic.patients.order_by("pk")[in_clinic // 2]

    def raw_page() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, given_name, family_name, date_of_birth, phone FROM patients_patient"
                " WHERE clinic_id = %s ORDER BY family_name, given_name LIMIT 25",
                [staff.clinic_id],
            )
            cursor.fetchall()

    def get(url: str) -> Callable[[], object]:
        def request() -> None:
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        return request

    floor = timed(raw_page, args.repeat)
    page_floor = timed(get("/"), args.repeat)
    print(f"{connection.vendor}, {in_clinic} patients in the clinic")
    print(
        f"floor: raw SQL page of 25: {floor * 1000:.2f} ms; home page: {page_floor * 1000:.2f} ms"
    )
    cases = {
        "list, first page": "/patients/",
        "list, last page": f"/patients/?page={max(1, -(-in_clinic // 25))}",
        "search by family name": f"/patients/?q={sample.family_name}",
        "search by date of birth": f"/patients/?q={sample.date_of_birth.isoformat()}",
        "search by phone digits": f"/patients/?q={sample.phone_digits[-6:]}",
    }
    for label, url in cases.items():
        seconds = timed(get(url), args.repeat)
        print(
            f"{label:<26} {seconds * 1000:8.2f} ms  {seconds / floor:7.1f} x raw SQL"
            f"  {seconds / page_floor:5.1f} x home page"
        )


if __name__ == "__main__":
    main()
