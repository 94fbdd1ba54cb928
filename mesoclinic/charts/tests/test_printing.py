"""The treatment summary and the course history on paper, read back as a reader would (their
text and pages, with pypdfium2): one page a session on A4 and on Letter, whatever the chart
holds; the values as amended beside the originals; a draft marked; the same bytes every time;
and the pages that serve them, to the chart's clinic only, audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.test import Client
from django.urls import reverse

from mesoclinic import pdf
from mesoclinic.charts import bodymap, printing, services
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session, simple_draft, stock_lot
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.clinics.testing import PASSWORD, sign_in
from mesoclinic.courses.models import CoursePlan
from mesoclinic.formulas.models import Lot

PICTURES = Path("/tmp/chart-pdf")  # noqa: S108 (pages for people to look at)


@contextmanager
def opened(data: bytes) -> Iterator[pdfium.PdfDocument]:
    document = pdfium.PdfDocument(data)
    try:
        yield document
    finally:
        document.close()


def pages_of(data: bytes) -> list[str]:
    """Each page's text, its line breaks and spacing made single spaces."""
    with opened(data) as document:
        return [" ".join(page.get_textpage().get_text_bounded().split()) for page in document]


def text_of(data: bytes) -> str:
    return " ".join(pages_of(data))


def save_page(data: bytes, index: int, name: str) -> Path:
    PICTURES.mkdir(parents=True, exist_ok=True)
    path = PICTURES / name
    with opened(data) as document:
        document[index].render(scale=2).to_pil().save(path)
    return path


def spots(view: str, area: str, side: str, count: int) -> list[services.PointSpec]:
    """``count`` points spread over the area (on each side for "both") of the map's view."""
    regions = [
        r
        for r in bodymap.get_view(view).regions
        if r.area == area and (side in ("", "both") or r.side == side)
    ]
    points = []
    for region in regions:
        x0, y0, x1, y1 = region.shape.bbox
        inside = [
            (x, y)
            for y in range(int(y0), int(y1) + 1, 3)
            for x in range(int(x0), int(x1) + 1, 3)
            if bodymap.region_at(view, x, y) == region
        ]
        # Spread out: each next point the farthest from those already taken.
        cx, cy = region.shape.centre
        taken = [min(inside, key=lambda p: (p[0] - cx) ** 2 + (p[1] - cy) ** 2)]
        while len(taken) < min(count, len(inside)):
            taken.append(
                max(
                    inside,
                    key=lambda p: min((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 for q in taken),
                )
            )
        points += [services.PointSpec(view, Decimal(x), Decimal(y)) for x, y in taken]
    return points


def area(
    code: str,
    syringe: int,
    *,
    side: str = "",
    view: str,
    placed: int,
    count: int,
    per_point: str,
    depth: str = "1.5",
    technique: str = "papule",
) -> services.AreaSpec:
    return services.AreaSpec(
        area=code,
        side=side,
        syringe=syringe,
        technique=technique,
        depth_mm=Decimal(depth),
        volume_per_point_ml=Decimal(per_point),
        point_count=count,
        points=spots(view, code, side, placed),
    )


def rich_draft(chart: Chart, lot: Lot, second: Lot) -> services.DraftSpec:
    """Face and body: two syringes, three lots, five area lines on three views."""
    started = chart.appointment.starts_at
    return services.DraftSpec(
        started_at=started,
        ended_at=started + timedelta(minutes=17),
        anaesthetic_product="Lidocaine 5 % cream",
        anaesthetic_minutes=25,
        pain_score=3,
        immediate_reactions="Slight redness on the forehead.",
        aftercare_given="No make-up for 12 hours, no sport or sauna for 24 hours; "
        "arnica if a bruise appears.",
        notes="Tolerated well. Plan the same areas next session; consider more on the "
        "nasolabial folds.",
        syringes=[
            services.SyringeSpec(
                number=1,
                volume_ml=Decimal("2.00"),
                needle_gauge=32,
                needle_length_mm=Decimal(4),
                lots=[services.LotSpec(lot.pk, Decimal("2.00"))],
            ),
            services.SyringeSpec(
                number=2,
                volume_ml=Decimal("5.00"),
                needle_gauge=30,
                needle_length_mm=Decimal(13),
                lots=[
                    services.LotSpec(second.pk, Decimal("3.00")),
                    services.LotSpec(lot.pk, Decimal("2.00")),
                ],
            ),
        ],
        areas=[
            area("forehead", 1, view="face", placed=3, count=20, per_point="0.02"),
            area("cheeks", 1, side="both", view="face", placed=2, count=40, per_point="0.02"),
            area(
                "nasolabial-folds",
                1,
                side="both",
                view="face",
                placed=2,
                count=16,
                per_point="0.05",
                technique="linear",
                depth="2",
            ),
            area(
                "abdomen",
                2,
                view="front",
                placed=4,
                count=40,
                per_point="0.1",
                technique="nappage",
                depth="4",
            ),
            area(
                "buttocks",
                2,
                side="left",
                view="back",
                placed=2,
                count=10,
                per_point="0.1",
                technique="point",
                depth="6",
            ),
        ],
    )


@pytest.fixture
def second_lot(bookable_pat: User) -> Lot:
    assert bookable_pat.clinic is not None
    return stock_lot(bookable_pat.clinic, bookable_pat, name="Organic silicon", number="SI-2291")


def sign(chart: Chart, spec: services.DraftSpec, pat: User) -> Chart:
    services.save_draft(chart, spec, pat)
    return services.sign(chart, pat, PASSWORD)


@pytest.fixture
def rich_chart(chart: Chart, lot: Lot, second_lot: Lot, bookable_pat: User) -> Chart:
    """Signed, then corrected twice."""
    chart = sign(chart, rich_draft(chart, lot, second_lot), bookable_pat)
    services.amend(chart, "pain_score", "4", "The patient rated it again after.", bookable_pat)
    services.amend(
        chart,
        "immediate_reactions",
        "Slight redness on the forehead; a small bruise on the left cheek.",
        "The bruise showed after the chart was signed.",
        bookable_pat,
    )
    return chart


def assert_inside_the_box(data: bytes, size: tuple[float, float]) -> None:
    """Every character within the 170 x 247 mm box both papers share."""
    with opened(data) as document:
        for page in document:
            width, height = page.get_size()
            assert (width, height) == pytest.approx(size, abs=0.1)
            _, _, box_width, box_height = pdf.text_box((width, height))
            textpage = page.get_textpage()
            for index in range(textpage.count_chars()):
                x0, y0, x1, y1 = textpage.get_charbox(index)
                if x0 == x1 == y0 == y1 == 0:
                    continue
                assert -box_width / 2 - 0.5 <= x0 - width / 2
                assert x1 - width / 2 <= box_width / 2 + 0.5
                assert -box_height / 2 - 0.5 <= y0 - height / 2
                assert y1 - height / 2 <= box_height / 2 + 0.5


# --- the session summary ----------------------------------------------------------------


@pytest.mark.parametrize(("paper", "size"), [("a4", (595.28, 841.89)), ("letter", (612.0, 792.0))])
def test_the_summary_of_a_signed_and_amended_chart_is_one_page(
    rich_chart: Chart, paper: str, size: tuple[float, float]
) -> None:
    rich_chart.clinic.paper_size = paper
    rich_chart.clinic.save()

    data = printing.session_summary_pdf(rich_chart)
    pages = pages_of(data)
    text = " ".join(pages)
    save_page(data, 0, f"summary-{paper}.png")

    assert len(pages) == 1
    assert_inside_the_box(data, size)
    assert "Camille Rousseau" in text
    assert "14 March 1980" in text
    assert "Session 1 of" in text or "session 1 of" in text
    assert "Pat Practitioner" in text
    assert "Glow 1 v1" in text
    for lot_number in ("CH-001", "SI-2291"):
        assert lot_number in text
    for label in ("Forehead", "Cheeks", "Nasolabial folds", "Stomach / abdomen", "Buttocks"):
        assert label in text, label
    assert "Syringe, 32 G \u00d7 4 mm" in text
    assert "7.00 mL" in text  # 2 + 5 mL, all areas
    assert "Lidocaine 5 % cream, 25 min" in text
    # The effective values, and the amendments with what they replaced.
    assert "4 / 10 (amended)" in text
    assert "a small bruise on the left cheek. (amended)" in text
    assert "Amendments (2)" in text
    assert "Slight redness on the forehead. Slight redness on the forehead; a small" in text
    assert "The bruise showed after the chart was signed." in text
    assert "Pain score 3 4 The patient rated it again after." in text
    assert "Signed by Pat Practitioner" in text
    assert rich_chart.content_sha256 in text
    assert "DRAFT" not in text
    assert (PICTURES / f"summary-{paper}.png").stat().st_size > 50_000


def test_a_draft_is_marked_as_a_draft_and_prints_the_same_bytes_every_time(
    chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    chart.refresh_from_db()

    first, second = printing.session_summary_pdf(chart), printing.session_summary_pdf(chart)
    text = text_of(first)

    assert first == second
    assert "DRAFT - not signed" in text  # the watermark
    assert "Draft, not signed." in text
    assert "Signed by" not in text
    assert services.content_hash(chart) in text
    assert len(pages_of(first)) == 1
    save_page(first, 0, "summary-draft.png")


def test_a_signed_chart_prints_the_same_bytes_every_time(rich_chart: Chart) -> None:
    assert printing.session_summary_pdf(rich_chart) == printing.session_summary_pdf(rich_chart)


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_a_chart_too_long_for_a_page_is_cut_not_spilled(
    chart: Chart, lot: Lot, second_lot: Lot, bookable_pat: User, paper: str
) -> None:
    chart.clinic.paper_size = paper
    chart.clinic.save()
    spec = rich_draft(chart, lot, second_lot)
    sentence = "Erythema settled within the hour, no bruising, patient comfortable. "
    spec.notes = "Session notes begin here. " + sentence * 120 + "THE END OF THE NOTES."
    spec.immediate_reactions = "Reactions begin here. " + sentence * 30
    spec.aftercare_given = "Aftercare begins here. " + sentence * 30
    chart = sign(chart, spec, bookable_pat)
    for number in range(6):
        services.amend(
            chart,
            "notes",
            f"Amended notes {number}. " + sentence * 20,
            "Completed later.",
            bookable_pat,
        )

    data = printing.session_summary_pdf(chart)
    text = text_of(data)

    assert len(pages_of(data)) == 1
    assert "(continued in the record)" in text
    assert "Amended notes 5." in text  # the notes as now amended
    assert "THE END OF THE NOTES" not in text
    assert "Reactions begin here." in text
    assert "CH-001" in text and "Stomach / abdomen" in text
    assert chart.content_sha256 in text
    save_page(data, 0, f"summary-long-{paper}.png")


# --- the course -------------------------------------------------------------------------


def test_the_course_history_has_a_table_then_a_page_per_signed_chart(
    rich_chart: Chart, face_plan: CoursePlan, asha: User, lot: Lot, bookable_pat: User
) -> None:
    second = services.start_chart(ready_session(face_plan, asha, session_number=2), bookable_pat)
    second = sign(second, simple_draft(second, lot, volume="1.00"), bookable_pat)
    draft = services.start_chart(ready_session(face_plan, asha, session_number=3), bookable_pat)

    data = printing.course_history_pdf(face_plan)
    pages = pages_of(data)
    text = " ".join(pages)

    assert len(pages) == 3  # the cover, then sessions 2 and 1 (their date order)
    assert_inside_the_box(data, (595.28, 841.89))
    cover = pages[0]
    assert "Course history" in cover and "Camille Rousseau" in cover
    assert "Draft, not signed" in cover
    assert "Signed, amended (2)" in cover
    # Sessions in date order: 3 (the earliest of the day), 2, then 1.
    assert re.findall(r"\d{4} (\d) of 8\b", cover) == ["3", "2", "1"]  # "26 Nov 2026 3 of 8"
    assert "2 of 8 sessions charted" in cover
    assert "2 signed sessions 8.00 mL" in cover  # 7 + 1 mL
    assert "CH-001, SI-2291" in cover
    assert second.content_sha256 in pages[1]
    assert rich_chart.content_sha256 in pages[2]
    assert "Pain score 3 4 The patient rated it again after." in pages[2]
    assert draft.pk and "DRAFT" not in text
    assert "Page 3 of 3" in text
    assert printing.course_history_pdf(face_plan) == data
    save_page(data, 0, "course-cover.png")
    save_page(data, 2, "course-page3.png")


# --- the pages that serve them ----------------------------------------------------------


def test_the_clinics_staff_get_the_pdfs_and_each_read_is_audited(
    client: Client, rich_chart: Chart, asha: User
) -> None:
    sign_in(client, asha)
    url = reverse("charts:pdf", kwargs={"pk": rich_chart.pk})

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    day = rich_chart.appointment.starts_at.astimezone(rich_chart.clinic.tz).date().isoformat()
    assert response["Content-Disposition"] == f'inline; filename="treatment-summary-{day}.pdf"'
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response.content == printing.session_summary_pdf(rich_chart)
    event = AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_type="charts.Chart", object_id=str(rich_chart.pk)
    ).latest("pk")
    assert event.actor == asha
    assert event.patient_id == rich_chart.patient_id
    assert event.detail["what"] == "pdf"

    assert rich_chart.plan_id is not None
    response = client.get(reverse("charts:course-pdf", kwargs={"plan_pk": rich_chart.plan_id}))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith('inline; filename="course-history-')
    event = AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_type="courses.CoursePlan", object_id=str(rich_chart.plan_id)
    ).latest("pk")
    assert event.actor == asha
    assert event.detail["what"] == "course pdf"
    assert event.detail["charts"] == [rich_chart.pk]


def test_another_clinic_gets_404_and_a_researcher_403(
    client: Client, chart: Chart, bob: User, rhea: User
) -> None:
    urls = [
        reverse("charts:pdf", kwargs={"pk": chart.pk}),
        reverse("charts:course-pdf", kwargs={"plan_pk": chart.plan_id}),
    ]
    sign_in(client, bob)
    assert [client.get(url).status_code for url in urls] == [404, 404]
    client.logout()
    sign_in(client, rhea)
    assert [client.get(url).status_code for url in urls] == [403, 403]
    assert not AuditEvent.objects.filter(
        action=AuditAction.VIEW, detail__what__in=["pdf", "course pdf"]
    ).exists()
