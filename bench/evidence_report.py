"""How the outcome and safety reports scale to a registry of a million sessions.

Builds, once, in a scratch PostgreSQL database, four clinics with 80 practitioners, 24 formulas
and 240 lots (through the services), then with INSERT ... SELECT over generate_series about
139,000 courses and 1,000,000 signed sessions with their appointments, screenings, syringes,
syringe lots and lot uses, area treatments, 24-hour follow-ups, adverse events (about 5% of
sessions, one lot contaminated) and outcome measurements (baseline and end per course, GAIS at
the end). Then times ``evidence.effects.outcome_report`` and ``evidence.safety.safety_report``
against a floor measured in the same run: the same figures computed by one hand-written SQL
query each, whose numbers are checked against the report's. Medians of ``--repeat`` runs
after a warm-up; the reports' ratios to their floors are what to read, not the milliseconds.

Not a test and not in CI. PostgreSQL only (SQLite is refused):

    createdb -h 127.0.0.1 -U postgres mesoclinic_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mesoclinic_bench \\
        .venv/bin/python bench/evidence_report.py [--sessions 1000000] [--repeat 5]

The registry is built on the first run (a few minutes) and reused after; ``--rebuild`` asks
for a fresh database (drop and create it first).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

SLUG = "bench-evidence-"
PRACTITIONERS_PER_CLINIC = 20
CLINICS = (
    ("Bench Paris 1", "Europe/Paris"),
    ("Bench Paris 2", "Europe/Paris"),
    ("Bench London 1", "Europe/London"),
    ("Bench London 2", "Europe/London"),
)
# (indication, its primary scale's baseline mean and SD, noise SD, effects of its 3 formulas)
INDICATIONS = (
    ("cellulite", 8.0, 2.0, 1.0, (-2.0, -1.0, 0.0)),
    ("localised-fat", 92.0, 8.0, 1.5, (-3.0, -1.5, 0.0)),
)
FORMULAS_PER_CLINIC = 3 * len(INDICATIONS)
LOTS_PER_FORMULA = 10
SESSIONS_PER_COURSE = 8
SLOTS_PER_DAY = 16  # 30-minute slots from 08:00
LANES = 14 * SLOTS_PER_DAY  # the courses one practitioner runs at once (a session every 14 days)
GENERATION_DAYS = 14 * (SESSIONS_PER_COURSE + 1)
CONTAMINATED = (0, 0, 5)  # clinic, formula, lot


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` runs, after one warm-up run."""
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# --- the registry ----------------------------------------------------------------------------

# A uniform number in [0, 1) from a row number and a salt, and a standard normal from two: the
# registry is the same on every build, whatever order PostgreSQL inserts rows in.
FUNCTIONS = """
CREATE OR REPLACE FUNCTION pg_temp.u(n bigint, salt int) RETURNS float8 AS $$
    SELECT ((hashint8extended(n, salt) & 2147483647)::float8 + 0.5) / 2147483648
$$ LANGUAGE sql IMMUTABLE;
CREATE OR REPLACE FUNCTION pg_temp.z(n bigint, salt int) RETURNS float8 AS $$
    SELECT sqrt(-2 * ln(pg_temp.u(n, salt))) * cos(2 * pi() * pg_temp.u(n, salt + 1000))
$$ LANGUAGE sql IMMUTABLE;
"""

# One row per course: who, what, when, and its planted truth.
COURSES = """
CREATE TEMP TABLE bench_course AS
WITH drawn AS (
    SELECT k,
           k %% %(np)s AS p,
           (k %% %(np)s) / %(ppc)s AS ci,
           k / %(np)s AS m,
           floor(pg_temp.u(k, 1) * %(fpc)s)::int AS f,
           pg_temp.u(k, 2) < 0.8 AS measured
    FROM generate_series(0, %(courses)s - 1) AS k
)
SELECT k, p, ci, f, f / 3 AS ind, measured,
       CASE WHEN measured THEN %(spc)s ELSE 1 + floor(pg_temp.u(k, 3) * (%(spc)s - 1))::int END
           AS held,
       %(base_day)s::date + (m / %(lanes)s) * %(generation)s + (m %% %(lanes)s) %% 14 AS first_day,
       ((m %% %(lanes)s) / 14) * 30 AS minutes,
       %(plan0)s + k AS plan_id,
       %(patient0)s + k %% %(patients)s AS patient_id,
       (%(practitioners)s::bigint[])[p + 1] AS practitioner_id,
       (%(clinics)s::bigint[])[ci + 1] AS clinic_id,
       (%(zones)s::text[])[ci + 1] AS zone,
       (%(versions)s::bigint[])[ci * %(fpc)s + f + 1] AS version_id,
       pg_temp.z(k, 4) AS z_baseline,
       -- the true change: the formula's effect, the practitioner's (SD 0.5), the noise
       (%(effects)s::float8[])[f + 1] + 0.5 * pg_temp.z(p, 5)
           + (%(noise)s::float8[])[f / 3 + 1] * pg_temp.z(k, 6) AS change
FROM drawn;
ALTER TABLE bench_course ADD PRIMARY KEY (k);
"""

# One row per session. Each formula's lots are used in turn: lot n over the n-th tenth of the
# registry's days.
SESSIONS = """
CREATE TEMP TABLE bench_session AS
SELECT x.*,
       (%(lots)s::bigint[])[(x.ci * %(fpc)s + x.f) * %(lpf)s
           + least(%(lpf)s - 1, (x.day - %(base_day)s::date) * %(lpf)s / %(span)s) + 1]
           AS lot_id,
       CASE WHEN pg_temp.u(x.s, 7) < 0.1 THEN 2 ELSE 1 END AS syringes,
       pg_temp.u(x.s, 8) < 0.3 AS injector,
       pg_temp.u(x.s, 9) < 0.7 AS followed
FROM (
    SELECT row_number() OVER (ORDER BY c.k, j) - 1 AS s, c.*, j,
           c.first_day + 14 * j AS day,
           ((c.first_day + 14 * j)::timestamp + interval '8 hours'
               + c.minutes * interval '1 minute') AT TIME ZONE c.zone AS starts_at
    FROM bench_course c, generate_series(0, c.held - 1) AS j
) AS x;
ALTER TABLE bench_session ADD PRIMARY KEY (s);
CREATE INDEX ON bench_session (k) WHERE j = 0;
ANALYZE bench_session;
"""

MASS = [
    (
        "patients",
        """INSERT INTO patients_patient (id, clinic_id, given_name, family_name, date_of_birth,
            sex, phone, phone_digits, email, preferred_language, notes, created_at)
        SELECT %(patient0)s + i, (%(clinics)s::bigint[])[(i %% %(np)s) / %(ppc)s + 1],
               'Given' || i, 'Family' || i, date '1960-01-01' + (i * 37) %% 14600, 'female',
               '+44 7700 ' || lpad(i::text, 6, '0'), '447700' || lpad(i::text, 6, '0'),
               'patient' || i || '@example.org', 'en', '', now()
        FROM generate_series(0, %(patients)s - 1) AS i""",
    ),
    (
        "course plans",
        """INSERT INTO courses_courseplan (id, clinic_id, patient_id, indication_id,
            formula_version_id, practitioner_id, protocol_id, sessions_planned, interval_days,
            tolerance_days, session_minutes, maintenance_per_year, adjustment_reason, goals,
            status, status_reason, created_at, completed_on, created_by_id)
        SELECT plan_id, clinic_id, patient_id, (%(indications)s::bigint[])[ind + 1], version_id,
               practitioner_id, %(protocol)s, %(spc)s, 14, 3, 30, 1, '', '',
               CASE WHEN measured THEN 'completed' ELSE 'stopped' END,
               CASE WHEN measured THEN '' ELSE 'The patient stopped coming.' END,
               first_day - 7, CASE WHEN measured THEN first_day + 14 * (held - 1) END,
               practitioner_id
        FROM bench_course""",
    ),
    (
        "course plan areas",
        """INSERT INTO courses_courseplan_areas (courseplan_id, bodyarea_id)
        SELECT plan_id, (%(areas)s::bigint[])[ind + 1] FROM bench_course""",
    ),
    (
        "appointments",
        """INSERT INTO courses_appointment (id, clinic_id, patient_id, practitioner_id,
            starts_at, ends_at, kind, plan_id, session_number, status, status_reason,
            move_reason, created_at, created_by_id)
        SELECT %(appointment0)s + s, clinic_id, patient_id, practitioner_id, starts_at,
               starts_at + interval '30 minutes', 'session', plan_id, j + 1, 'attended', '', '',
               starts_at - interval '7 days', practitioner_id
        FROM bench_session""",
    ),
    (
        "screenings",
        """INSERT INTO screening_screening (id, clinic_id, patient_id, appointment_id, plan_id,
            practitioner_id, session_date, stage, ruleset_version, precare_window_days, outcome,
            run_at, run_by_id)
        SELECT %(screening0)s + s, clinic_id, patient_id, %(appointment0)s + s, plan_id,
               practitioner_id, day, 'chart', 'bench', 7, 'clear', starts_at, practitioner_id
        FROM bench_session""",
    ),
    (
        "charts",
        """INSERT INTO charts_chart (id, clinic_id, appointment_id, patient_id, plan_id,
            practitioner_id, formula_version_id, screening_id, session_number, started_at,
            ended_at, anaesthetic_product, pain_score, immediate_reactions, aftercare_given,
            notes, created_at, created_by_id, content_sha256)
        SELECT %(chart0)s + s, clinic_id, %(appointment0)s + s, patient_id, plan_id,
               practitioner_id, version_id, %(screening0)s + s, j + 1,
               starts_at + interval '2 minutes', starts_at + interval '22 minutes', '',
               (s %% 5)::smallint, '', 'No sport or sauna for 24 hours.', '', starts_at,
               practitioner_id, ''
        FROM bench_session""",
    ),
    (
        "syringes",
        """INSERT INTO charts_syringe (id, chart_id, number, device, volume_ml, needle_gauge,
            needle_length_mm, injector_id)
        SELECT %(part0)s + 2 * s + n, %(chart0)s + s, n + 1,
               CASE WHEN injector THEN 'injector' ELSE 'syringe' END, 2.00,
               CASE WHEN injector THEN NULL ELSE 30 END, 4,
               CASE WHEN injector THEN 'GUN-' || (ci * 2 + s %% 2 + 1) ELSE '' END
        FROM bench_session, generate_series(0, syringes - 1) AS n""",
    ),
    (
        "lot uses",
        """INSERT INTO formulas_lotuse (id, lot_id, patient_id, used_on, volume_ml, units,
            formula_version_id, reference, note, recorded_by_id, recorded_at)
        SELECT %(part0)s + 2 * s + n, lot_id, patient_id, starts_at + interval '2 minutes',
               2.00, 1, version_id, 'Chart ' || (%(chart0)s + s) || ', syringe ' || (n + 1), '',
               practitioner_id, starts_at + interval '25 minutes'
        FROM bench_session, generate_series(0, syringes - 1) AS n""",
    ),
    (
        "syringe lots",
        """INSERT INTO charts_syringelot (id, chart_id, syringe_id, lot_id, volume_ml,
            opens_unit, lot_use_id)
        SELECT %(part0)s + 2 * s + n, %(chart0)s + s, %(part0)s + 2 * s + n, lot_id, 2.00,
               false, %(part0)s + 2 * s + n
        FROM bench_session, generate_series(0, syringes - 1) AS n""",
    ),
    (
        "area treatments",
        """INSERT INTO charts_areatreatment (id, chart_id, position, body_area_id, side,
            syringe_id, technique, depth_mm, volume_per_point_ml, point_count)
        SELECT %(part0)s + 2 * s + n, %(chart0)s + s, n + 1, (%(areas)s::bigint[])[ind + 1],
               '', %(part0)s + 2 * s + n,
               CASE WHEN injector AND n = 0 THEN 'injector'
                    WHEN n = 1 THEN 'papule' ELSE 'nappage' END,
               2, 0.050, 40
        FROM bench_session, generate_series(0, syringes - 1) AS n""",
    ),
    (
        "signing",
        """UPDATE charts_chart SET signed_at = ended_at + interval '5 minutes',
            signed_by_id = practitioner_id, content_sha256 = %(hash)s
        WHERE id >= %(chart0)s AND signed_at IS NULL""",
    ),
    (
        "follow-ups",
        """INSERT INTO followup_followup (id, clinic_id, patient_id, chart_id, channel,
            answered_at, answered_by_id, answers, day_off_work, notes, recorded_at)
        SELECT %(followup0)s + s, clinic_id, patient_id, %(chart0)s + s, 'phone',
               starts_at + interval '22 minutes' + (20 + s %% 12) * interval '1 hour',
               practitioner_id, '{}'::jsonb, false, '',
               starts_at + interval '22 minutes' + (20 + s %% 12) * interval '1 hour'
        FROM bench_session WHERE followed""",
    ),
    (
        "adverse events",
        """INSERT INTO followup_adverseevent (clinic_id, patient_id, chart_id, side_effect_id,
            other_description, body_area_id, onset_on, grade, serious, treatment, outcome,
            resolved_on, day_off_work, organism, reporter, reported_by_id, reported_at,
            causality, causality_by_id, causality_at, follow_up_id, notes, retraction_reason)
        SELECT clinic_id, patient_id, %(chart0)s + s, (%(side_effects)s::bigint[])[e.kind],
               '', (%(areas)s::bigint[])[ind + 1], day + e.onset, e.grade, false, '',
               CASE WHEN day + e.onset + e.lasts <= %(today)s::date THEN 'resolved'
                    ELSE 'ongoing' END,
               CASE WHEN day + e.onset + e.lasts <= %(today)s::date
                    THEN day + e.onset + e.lasts END,
               false, '', 'staff', practitioner_id,
               starts_at + (e.onset + 1) * interval '1 day', 'probable', practitioner_id,
               starts_at + (e.onset + 1) * interval '1 day',
               CASE WHEN followed AND e.kind <= 2 THEN %(followup0)s + s END, '', ''
        FROM bench_session
        CROSS JOIN LATERAL (VALUES
            -- bruising, swelling, redness: on the day, mostly gone the next
            (1, pg_temp.u(s, 10) < 0.030, 0, 1, CASE WHEN pg_temp.u(s, 13) < 0.9 THEN 1 ELSE 3 END),
            (2, pg_temp.u(s, 11) < 0.015, 0, 1, CASE WHEN pg_temp.u(s, 14) < 0.9 THEN 1 ELSE 2 END),
            (3, pg_temp.u(s, 12) < 0.005, 0, 1, 2),
            -- infection: a low background, and 5%% of the contaminated lot's sessions
            (4, pg_temp.u(s, 15) < CASE WHEN lot_id = %(contaminated)s THEN 0.05 ELSE 0.0005 END,
             7 + floor(pg_temp.u(s, 16) * 54)::int, 3, 30)
        ) AS e(kind, fires, onset, grade, lasts)
        WHERE e.fires""",
    ),
    (
        "measurements",
        """INSERT INTO outcomes_measurement (clinic_id, patient_id, plan_id, scale_id, value,
            site, measured_at, time_point, session_number, chart_id, rater, rated_by_id,
            recorded_by_id, recorded_at, note, retraction_reason)
        SELECT c.clinic_id, c.patient_id, c.plan_id, v.scale_id, v.value, v.site, v.at,
               v.point, NULL, v.chart_id, v.rater, c.practitioner_id, c.practitioner_id, v.at,
               '', ''
        FROM bench_course c
        JOIN bench_session first ON first.k = c.k AND first.j = 0
        CROSS JOIN LATERAL (SELECT
            c.first_day::timestamp + interval '8 hours' + c.minutes * interval '1 minute'
                - interval '10 minutes' AS first_at,
            (c.first_day + 14 * (c.held - 1) + 14 + floor(pg_temp.u(c.k, 17) * 15)::int)
                ::timestamp + interval '11 hours' AS end_at,
            (%(mean)s::float8[])[c.ind + 1] + (%(sd)s::float8[])[c.ind + 1] * c.z_baseline
                AS baseline,
            (%(mean)s::float8[])[c.ind + 1] + (%(sd)s::float8[])[c.ind + 1] * c.z_baseline
                + c.change AS ending,
            -- GAIS: 4 (no change) less the improvement in units of the noise's SD
            -c.change / (%(noise)s::float8[])[c.ind + 1] AS better
        ) AS t
        CROSS JOIN LATERAL (VALUES
            ((%(scales)s::bigint[])[c.ind + 1],
             round(greatest(0, least(CASE WHEN c.ind = 0 THEN 15 ELSE 300 END, t.baseline))::numeric,
                   c.ind),
             (t.first_at AT TIME ZONE c.zone), 'baseline', %(chart0)s + first.s, 'practitioner',
             CASE WHEN c.ind = 1 THEN 'navel + 5 cm' ELSE '' END, true),
            ((%(scales)s::bigint[])[c.ind + 1],
             round(greatest(0, least(CASE WHEN c.ind = 0 THEN 15 ELSE 300 END, t.ending))::numeric,
                   c.ind),
             (t.end_at AT TIME ZONE c.zone), 'end', NULL, 'practitioner',
             CASE WHEN c.ind = 1 THEN 'navel + 5 cm' ELSE '' END, c.measured),
            (%(gais)s, least(5, greatest(1, 4 - round(t.better + 0.5 * pg_temp.z(c.k, 18))))::numeric,
             (t.end_at AT TIME ZONE c.zone) + interval '5 minutes', 'end', NULL, 'practitioner',
             '', c.measured),
            (%(gais)s, least(5, greatest(1, 4 - round(t.better + pg_temp.z(c.k, 19))))::numeric,
             (t.end_at AT TIME ZONE c.zone) + interval '6 minutes', 'end', NULL, 'patient',
             '', c.measured)
        ) AS v(scale_id, value, at, point, chart_id, rater, site, kept)
        WHERE v.kept""",
    ),
]


def _first_id(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")  # noqa: S608 (ours)
        return int(cursor.fetchone()[0])


def build(sessions: int) -> None:
    import hashlib

    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from mesoclinic.catalogue.models import (
        BodyArea,
        Indication,
        OutcomeScale,
        Protocol,
        SideEffect,
    )
    from mesoclinic.clinics.models import Clinic, Role, User
    from mesoclinic.formulas import services as formulas
    from mesoclinic.formulas.models import FormulaVersion, Ingredient, Lot, Presentation

    started = time.perf_counter()
    courses = round(sessions / (0.8 * SESSIONS_PER_COURSE + 0.2 * SESSIONS_PER_COURSE / 2))
    np_ = PRACTITIONERS_PER_CLINIC * len(CLINICS)
    patients = (courses * 85 // 100) // np_ * np_  # a multiple: patient i is in clinic i % np_
    days_needed = (courses // np_ // LANES + 1) * GENERATION_DAYS + 14 * SESSIONS_PER_COURSE
    clinics = [
        Clinic.objects.create(name=name, slug=f"{SLUG}{i}", time_zone=zone)
        for i, (name, zone) in enumerate(CLINICS)
    ]
    today = clinics[0].today()
    base_day = today - timedelta(days=days_needed + 90)
    practitioners = User.objects.bulk_create(
        User(
            username=f"bench.p{ci}-{n}",
            first_name=f"Bench{ci}",
            last_name=f"Practitioner{n}",
            role=Role.PRACTITIONER,
            clinic=clinic,
            password=make_password(None),
        )
        for ci, clinic in enumerate(clinics)
        for n in range(PRACTITIONERS_PER_CLINIC)
    )
    carnitine = Ingredient.objects.get(clinic__isnull=True, name="L-carnitine")
    extras = ("Caffeine", "Organic silicon", "Artichoke extract")
    versions: list[int] = []
    lots: list[int] = []
    effects: list[float] = []
    for ci, clinic in enumerate(clinics):
        author = practitioners[ci * PRACTITIONERS_PER_CLINIC]
        for ind, (code, *_, formula_effects) in enumerate(INDICATIONS):
            for n, effect in enumerate(formula_effects):
                name = f"{code.title()} {n + 1}"
                product = formulas.create_product(
                    clinic=clinic,
                    name=f"{name} base",
                    manufacturer="Bench Pharma",
                    presentation=Presentation.AMPOULE,
                    volume_ml=Decimal(5),
                    contents=[formulas.Content(carnitine, Decimal(200), "mg/mL")],
                    actor=author,
                )
                formula = formulas.create_formula(
                    clinic=clinic,
                    name=name,
                    author=author,
                    components=[
                        formulas.ComponentSpec(product=product, volume_ml=Decimal(2)),
                        formulas.ComponentSpec(
                            ingredient=Ingredient.objects.get(clinic__isnull=True, name=extras[n]),
                            volume_ml=Decimal(1),
                            concentration=Decimal(2),
                            unit="%",
                        ),
                    ],
                    total_volume_ml=Decimal(4),
                    indications=[Indication.objects.get(code=code)],
                    actor=author,
                )
                versions.append(formula.current_version.pk)
                if ci == 0:
                    effects.append(effect)
                for lot in range(LOTS_PER_FORMULA):
                    lots.append(
                        formulas.receive_lot(
                            product=product,
                            lot_number=f"{ci}{ind}{n}-{lot:03d}",
                            expiry_date=today + timedelta(days=730),
                            received_on=base_day - timedelta(days=30),
                            received_quantity=1_000_000,
                            actor=author,
                        ).pk
                    )
    indications = [Indication.objects.get(code=code) for code, *_ in INDICATIONS]
    areas = {"cellulite": "thighs", "localised-fat": "abdomen"}
    side_effects = ["bruising", "swelling", "redness", "infection"]
    ci, f, lot = CONTAMINATED
    params: dict[str, Any] = {
        "np": np_,
        "ppc": PRACTITIONERS_PER_CLINIC,
        "fpc": FORMULAS_PER_CLINIC,
        "lpf": LOTS_PER_FORMULA,
        "spc": SESSIONS_PER_COURSE,
        "lanes": LANES,
        "generation": GENERATION_DAYS,
        "courses": courses,
        "patients": patients,
        "base_day": base_day,
        "today": today,
        "span": days_needed,
        "practitioners": [p.pk for p in practitioners],
        "clinics": [c.pk for c in clinics],
        "zones": [c.time_zone for c in clinics],
        "versions": versions,
        "lots": lots,
        "effects": effects,
        "contaminated": lots[(ci * FORMULAS_PER_CLINIC + f) * LOTS_PER_FORMULA + lot],
        "indications": [i.pk for i in indications],
        "scales": [i.primary_scale_id for i in indications],
        "gais": OutcomeScale.objects.get(code="gais").pk,
        "mean": [row[1] for row in INDICATIONS],
        "sd": [row[2] for row in INDICATIONS],
        "noise": [row[3] for row in INDICATIONS],
        "areas": [BodyArea.objects.get(code=areas[code]).pk for code, *_ in INDICATIONS],
        "side_effects": [SideEffect.objects.get(code=code).pk for code in side_effects],
        "protocol": Protocol.objects.get(code="default").pk,
        "hash": hashlib.sha256(b"bench chart").hexdigest(),
        "plan0": _first_id("courses_courseplan"),
        "patient0": _first_id("patients_patient"),
        "appointment0": _first_id("courses_appointment"),
        "screening0": _first_id("screening_screening"),
        "chart0": _first_id("charts_chart"),
        "part0": max(
            _first_id(table)
            for table in (
                "charts_syringe",
                "charts_syringelot",
                "charts_areatreatment",
                "formulas_lotuse",
            )
        ),
        "followup0": _first_id("followup_followup"),
    }
    print(f"dimension rows (services): {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute(FUNCTIONS)
        for label, sql in (("courses (temp)", COURSES), ("sessions (temp)", SESSIONS)):
            step = time.perf_counter()
            cursor.execute(sql, params)
            print(f"  {label:<22} {time.perf_counter() - step:6.1f} s")
        for label, sql in MASS:
            step = time.perf_counter()
            cursor.execute(sql, params)
            print(f"  {label:<22} {time.perf_counter() - step:6.1f} s  {cursor.rowcount:>9} rows")
        # What the services would have kept in step: stock, versions used, the id sequences.
        cursor.execute(
            """UPDATE formulas_lot l SET remaining_units = l.received_quantity - u.n
            FROM (SELECT lot_id, sum(units) AS n FROM formulas_lotuse GROUP BY lot_id) u
            WHERE u.lot_id = l.id"""
        )
        FormulaVersion.objects.filter(pk__in=versions).update(used_at=timezone.now())
        for table in (
            "patients_patient",
            "courses_courseplan",
            "courses_appointment",
            "screening_screening",
            "charts_chart",
            "charts_syringe",
            "charts_syringelot",
            "charts_areatreatment",
            "formulas_lotuse",
            "followup_followup",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"  # noqa: S608
            )
    step = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  {'vacuum analyze':<22} {time.perf_counter() - step:6.1f} s")
    assert Lot.objects.filter(pk__in=lots).count() == len(lots)
    print(f"built the registry in {time.perf_counter() - started:.1f} s")


# --- the floors: the same figures, one hand-written query each -------------------------------

# c.b and c.e are the means over the sites measured at both time points; c.has_b is true for
# a course with a baseline at any site.
_SUMS = """
    count(*),
    count(*) FILTER (WHERE c.has_b IS NULL),
    count(*) FILTER (WHERE c.has_b AND c.e IS NULL AND c.status IN ('planned', 'active')),
    count(*) FILTER (WHERE c.has_b AND c.e IS NULL AND c.status NOT IN ('planned', 'active')),
    count(c.e),
    sum(c.e - c.b),
    sum((c.e - c.b) * (c.e - c.b)),
    sum(CASE WHEN c.better * (c.e - c.b) >= c.mid - 0.000001 THEN 1 ELSE 0 END),
    count(c.pg), sum(c.pg), count(c.qg), sum(c.qg)
"""

OUTCOME_FLOOR = f"""
WITH sites AS (
    SELECT m.plan_id,
           avg(m.value) FILTER (WHERE m.time_point = 'baseline') AS b,
           avg(m.value) FILTER (WHERE m.time_point = 'end') AS e
    FROM courses_courseplan p
    JOIN catalogue_indication i ON i.id = p.indication_id
    JOIN outcomes_measurement m ON m.plan_id = p.id AND m.scale_id = i.primary_scale_id
    WHERE p.clinic_id = ANY(%(clinics)s) AND m.retracted_at IS NULL
      AND m.time_point IN ('baseline', 'end')
    GROUP BY m.plan_id, m.site
),
paired AS (
    SELECT plan_id, true AS has_b,
           avg(b) FILTER (WHERE e IS NOT NULL) AS b, avg(e) FILTER (WHERE b IS NOT NULL) AS e
    FROM sites WHERE b IS NOT NULL GROUP BY plan_id
),
c AS (
    SELECT p.id, p.indication_id, p.practitioner_id, p.status, p.formula_version_id,
           v.formula_id,
           CASE s.direction WHEN 'higher-is-better' THEN 1 WHEN 'lower-is-better' THEN -1 END
               AS better,
           s.minimal_important_difference AS mid, pr.has_b, pr.b, pr.e,
           (array_agg(CASE WHEN g.code = 'gais' THEN (m.value <= 3)::int
                           ELSE (m.value >= 2)::int END
                      ORDER BY m.measured_at DESC, m.id DESC)
                FILTER (WHERE g.code IN ('gais', 'gais-reversed') AND m.time_point = 'end'
                        AND m.rater = 'practitioner'))[1] AS pg,
           (array_agg(CASE WHEN g.code = 'gais' THEN (m.value <= 3)::int
                           ELSE (m.value >= 2)::int END
                      ORDER BY m.measured_at DESC, m.id DESC)
                FILTER (WHERE g.code IN ('gais', 'gais-reversed') AND m.time_point = 'end'
                        AND m.rater = 'patient'))[1] AS qg
    FROM courses_courseplan p
    JOIN catalogue_indication i ON i.id = p.indication_id
    JOIN catalogue_outcomescale s ON s.id = i.primary_scale_id
    LEFT JOIN formulas_formulaversion v ON v.id = p.formula_version_id
    LEFT JOIN paired pr ON pr.plan_id = p.id
    LEFT JOIN outcomes_measurement m ON m.plan_id = p.id AND m.retracted_at IS NULL
    LEFT JOIN catalogue_outcomescale g ON g.id = m.scale_id
    WHERE p.clinic_id = ANY(%(clinics)s)
    GROUP BY p.id, s.id, v.formula_id, pr.has_b, pr.b, pr.e
),
classes AS (
    SELECT DISTINCT fc.version_id,
           coalesce(own.ingredient_class_id, inside.ingredient_class_id) AS class_id
    FROM formulas_formulacomponent fc
    JOIN formulas_formulaversion fv ON fv.id = fc.version_id
    JOIN formulas_formula fo ON fo.id = fv.formula_id
    LEFT JOIN formulas_ingredient own ON own.id = fc.ingredient_id
    LEFT JOIN formulas_productingredient pi ON pi.product_id = fc.product_id
    LEFT JOIN formulas_ingredient inside ON inside.id = pi.ingredient_id
    WHERE fo.clinic_id = ANY(%(clinics)s)
      AND coalesce(own.ingredient_class_id, inside.ingredient_class_id) IS NOT NULL
),
techniques AS (
    SELECT DISTINCT ch.plan_id, a.technique
    FROM charts_areatreatment a JOIN charts_chart ch ON ch.id = a.chart_id
    WHERE ch.clinic_id = ANY(%(clinics)s) AND ch.signed_at IS NOT NULL
      AND ch.plan_id IS NOT NULL
)
SELECT 'all', c.indication_id, NULL, {_SUMS} FROM c GROUP BY c.indication_id
UNION ALL
SELECT 'formula', c.indication_id, c.formula_id::text, {_SUMS} FROM c GROUP BY 2, 3
UNION ALL
SELECT 'practitioner', c.indication_id, c.practitioner_id::text, {_SUMS} FROM c GROUP BY 2, 3
UNION ALL
SELECT 'class', c.indication_id, j.class_id::text, {_SUMS}
FROM c JOIN classes j ON j.version_id = c.formula_version_id GROUP BY 2, 3
UNION ALL
SELECT 'technique', c.indication_id, j.technique, {_SUMS}
FROM c JOIN techniques j ON j.plan_id = c.id GROUP BY 2, 3
"""  # noqa: S608 (our own constants)

# (kind, key, a, b, c, d): sessions, with an event, courses, with an event, or as noted.
SAFETY_FLOOR = """
WITH s AS MATERIALIZED (
    SELECT ch.id, ch.plan_id, ch.practitioner_id, ch.clinic_id, ch.formula_version_id,
           ch.ended_at, a.starts_at, cl.time_zone,
           EXISTS (SELECT 1 FROM followup_adverseevent e
                   WHERE e.chart_id = ch.id AND e.retracted_at IS NULL) AS has_event
    FROM charts_chart ch
    JOIN courses_appointment a ON a.id = ch.appointment_id
    JOIN clinics_clinic cl ON cl.id = ch.clinic_id
    WHERE ch.signed_at IS NOT NULL AND ch.clinic_id = ANY(%(clinics)s)
),
ev AS MATERIALIZED (
    SELECT e.chart_id, e.side_effect_id, e.onset_on, e.resolved_on, e.outcome,
           e.follow_up_id, s.plan_id
    FROM followup_adverseevent e JOIN s ON s.id = e.chart_id
    WHERE e.retracted_at IS NULL
),
lines AS (
    SELECT DISTINCT sl.chart_id, sl.lot_id, l.product_id, s.has_event
    FROM charts_syringelot sl JOIN s ON s.id = sl.chart_id JOIN formulas_lot l ON l.id = sl.lot_id
),
present AS (
    SELECT ev.chart_id,
           bool_or(se.code = 'bruising') AS bruising, bool_or(se.code = 'swelling') AS swelling
    FROM ev JOIN catalogue_sideeffect se ON se.id = ev.side_effect_id
    WHERE ev.follow_up_id IS NOT NULL GROUP BY ev.chart_id
),
next_day AS (
    SELECT f.id, f.answered_at >= s.ended_at + interval '24 hours'
               AND f.answered_at < s.ended_at + interval '48 hours' AS in_window,
           f.answered_at < s.ended_at + interval '24 hours' AS earlier,
           coalesce(p.bruising, false) AS bruising, coalesce(p.swelling, false) AS swelling
    FROM s JOIN followup_followup f ON f.chart_id = s.id
    LEFT JOIN present p ON p.chart_id = s.id
),
syringes AS (
    SELECT DISTINCT sy.chart_id, sy.device,
           CASE WHEN sy.device = 'injector' THEN sy.injector_id END AS injector_id,
           s.clinic_id, s.has_event
    FROM charts_syringe sy JOIN s ON s.id = sy.chart_id
)
SELECT 'total', NULL, count(*), count(*) FILTER (WHERE has_event),
       count(DISTINCT plan_id), count(DISTINCT plan_id) FILTER (WHERE has_event)
FROM s
UNION ALL
SELECT 'side effect', coalesce(se.code, 'other'), count(DISTINCT ev.chart_id), NULL,
       count(DISTINCT ev.plan_id), NULL
FROM ev LEFT JOIN catalogue_sideeffect se ON se.id = ev.side_effect_id GROUP BY 2
UNION ALL
SELECT 'formula', v.formula_id::text, count(*), count(*) FILTER (WHERE has_event), NULL, NULL
FROM s JOIN formulas_formulaversion v ON v.id = s.formula_version_id GROUP BY 2
UNION ALL
SELECT 'practitioner', practitioner_id::text, count(*), count(*) FILTER (WHERE has_event),
       NULL, NULL
FROM s GROUP BY 2
UNION ALL
SELECT 'product', product_id::text, count(DISTINCT chart_id),
       count(DISTINCT chart_id) FILTER (WHERE has_event), NULL, NULL
FROM lines GROUP BY 2
UNION ALL
SELECT 'lot', lot_id::text, count(DISTINCT chart_id),
       count(DISTINCT chart_id) FILTER (WHERE has_event), NULL, NULL
FROM lines GROUP BY 2
UNION ALL
SELECT 'device', device, count(DISTINCT chart_id),
       count(DISTINCT chart_id) FILTER (WHERE has_event), NULL, NULL
FROM syringes GROUP BY 2
UNION ALL
SELECT 'injector', clinic_id || ':' || injector_id, count(DISTINCT chart_id),
       count(DISTINCT chart_id) FILTER (WHERE has_event), NULL, NULL
FROM syringes WHERE device = 'injector' GROUP BY 2
UNION ALL
SELECT 'month', to_char(date_trunc('month', starts_at AT TIME ZONE time_zone), 'YYYY-MM'),
       count(*), count(*) FILTER (WHERE has_event), NULL, NULL
FROM s GROUP BY 2
UNION ALL
SELECT 'resolution', coalesce(se.code, 'other') || ':' || (ev.resolved_on - ev.onset_on),
       count(*), NULL, NULL, NULL
FROM ev LEFT JOIN catalogue_sideeffect se ON se.id = ev.side_effect_id
WHERE ev.resolved_on IS NOT NULL GROUP BY 2
UNION ALL
SELECT 'pending', coalesce(se.code, 'other'),
       count(*) FILTER (WHERE ev.outcome IN ('resolved', 'sequelae', 'fatal')),
       count(*) FILTER (WHERE ev.outcome NOT IN ('resolved', 'sequelae', 'fatal')), NULL, NULL
FROM ev LEFT JOIN catalogue_sideeffect se ON se.id = ev.side_effect_id
WHERE ev.resolved_on IS NULL GROUP BY 2
UNION ALL
SELECT 'next day', NULL, count(*) FILTER (WHERE in_window), count(*),
       count(*) FILTER (WHERE in_window AND bruising),
       count(*) FILTER (WHERE in_window AND swelling)
FROM next_day
"""


def floor_query(sql: str, clinic_ids: list[int]) -> Callable[[], list[tuple[Any, ...]]]:
    from django.db import connection

    def run() -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql, {"clinics": clinic_ids})
            return cursor.fetchall()

    return run


def _check_outcome(report: Any, rows: list[tuple[Any, ...]]) -> None:
    """The floor computes the report's figures: compare the overall and by-formula counts."""
    floor = {(kind, ind, key): row for kind, ind, key, *row in rows}
    for part in report.indications:
        mine = floor["all", part.indication.pk, None]
        theirs = part.overall.counts
        assert tuple(mine[:5]) == (
            theirs.courses,
            theirs.without_baseline,
            theirs.running_without_end,
            theirs.ended_without_end,
            theirs.complete,
        ), (mine, theirs)
        assert abs(float(mine[5] or 0) - theirs.change_sum) < 1e-6 * max(1, abs(theirs.change_sum))
        for row in part.by_formula.rows:
            mine = floor["formula", part.indication.pk, str(row.key)]
            assert (mine[0], mine[4], mine[9]) == (
                row.counts.courses,
                row.counts.complete,
                row.counts.practitioner_improved,
            ), (mine, row.counts)


def _check_safety(report: Any, rows: list[tuple[Any, ...]]) -> None:
    total = next(row for row in rows if row[0] == "total")
    assert (total[2], total[3], total[4]) == (
        report.sessions,
        report.any_per_session.events,
        report.courses,
    ), (total, report.sessions, report.any_per_session)
    side = {row[1]: row[2] for row in rows if row[0] == "side effect"}
    for entry in report.by_side_effect:
        assert side.get(entry.code, 0) == entry.per_session.events, entry
    next_day = next(row for row in rows if row[0] == "next day")
    timing = report.follow_up_timing
    assert (next_day[2], next_day[3]) == (timing.in_window, timing.answered), next_day
    assert [next_day[4], next_day[5]] == [c.still_present.events for c in report.next_day_check]
    formulas = sorted(row[2:4] for row in rows if row[0] == "formula")
    grouping = next(g for g in report.groupings if g.key == "formula")
    assert formulas == sorted((r.units, r.events) for r in grouping.rows), formulas


# --- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--build-only", action="store_true", help="build the registry and stop")
    args = parser.parse_args()

    os.environ.setdefault("MESOCLINIC_DEBUG", "1")
    os.environ.setdefault("MESOCLINIC_DATA_DIR", tempfile.mkdtemp(prefix="mesoclinic-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mesoclinic.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        print(
            "This benchmark runs on PostgreSQL only: set DATABASE_URL to a scratch PostgreSQL "
            "database (see the module's docstring).",
            file=sys.stderr,
        )
        sys.exit(2)

    from mesoclinic.clinics.models import Clinic
    from mesoclinic.evidence.filters import Filters

    call_command("migrate", verbosity=0)
    call_command("load_catalogue", verbosity=0)
    if not Clinic.objects.filter(slug__startswith=SLUG).exists():
        build(args.sessions)
    if args.build_only:
        return
    clinics = list(Clinic.objects.filter(slug__startswith=SLUG).order_by("slug"))
    all_ids = [c.pk for c in clinics]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM charts_chart WHERE signed_at IS NOT NULL AND clinic_id = ANY(%s)",
            [all_ids],
        )
        signed = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM courses_courseplan WHERE clinic_id = ANY(%s)", [all_ids]
        )
        plans = cursor.fetchone()[0]
    print(f"{connection.vendor}: {signed} signed sessions, {plans} courses, {len(clinics)} clinics")

    scopes = {
        "all clinics (researcher)": Filters(clinic_ids=all_ids, pseudonymous=True),
        "one clinic (staff)": Filters(clinic_ids=all_ids[:1]),
    }
    # PostgreSQL compiles a query whose estimated cost passes jit_above_cost: seconds of
    # compilation that a query over fewer rows never earns back. Both ways are measured.
    for jit in ("on", "off"):
        with connection.cursor() as cursor:
            cursor.execute(f"SET jit = {jit}")
        for label, filters in scopes.items():
            print(f"\n{label}, jit {jit}")
            measure(filters, args.repeat)


def measure(filters: Any, repeat: int) -> None:
    from mesoclinic.evidence.comparison import compare_formulas
    from mesoclinic.evidence.effects import _change_rows, course_rows, outcome_report
    from mesoclinic.evidence.safety import safety_report

    outcome_floor = floor_query(OUTCOME_FLOOR, filters.clinic_ids)
    safety_floor = floor_query(SAFETY_FLOOR, filters.clinic_ids)
    _check_outcome(outcome_report(filters), outcome_floor())
    _check_safety(safety_report(filters), safety_floor())
    changes = _change_rows(course_rows(filters))
    floors = {"outcome": timed(outcome_floor, repeat), "safety": timed(safety_floor, repeat)}
    print(
        f"floor, one SQL query each: outcome {floors['outcome'] * 1000:.1f} ms, "
        f"safety {floors['safety'] * 1000:.1f} ms"
    )
    cases: list[tuple[str, Callable[[], object], str]] = [
        ("outcome report", lambda: outcome_report(filters), "outcome"),
        ("  of which: rows the model fits", lambda: _change_rows(course_rows(filters)), "outcome"),
        (
            "  of which: the mixed models",
            lambda: [compare_formulas(rows, {}) for rows in changes.values()],
            "outcome",
        ),
        ("safety report", lambda: safety_report(filters), "safety"),
    ]
    for name, action, floor in cases:
        seconds = timed(action, repeat)
        print(f"{name:<34} {seconds * 1000:9.1f} ms  {seconds / floors[floor]:6.2f} x its floor")


if __name__ == "__main__":
    main()
