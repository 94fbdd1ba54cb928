"""The treatment chart on paper: a one-page summary of a session, and the history of a course
(a table of its sessions, then each signed session's summary on a page of its own).

A summary shows the chart's values as now corrected (``services.effective``), lists the
amendments that corrected them, and carries the SHA-256 of the content as signed. It always
fits one page, on A4 or Letter: when a chart holds more than a page, the map is drawn smaller,
then the free texts are cut short with "(continued in the record)", and in the last resort
the whole is set smaller. Built with ``mesoclinic.pdf``, so the same chart gives the same
bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepInFrame,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from mesoclinic import pdf
from mesoclinic.catalogue.models import BodyArea
from mesoclinic.charts import bodymap, editor, services
from mesoclinic.charts.models import (
    AmendableField,
    Chart,
    ChartAmendment,
    Device,
    Side,
    Technique,
)
from mesoclinic.consent.content import day_text
from mesoclinic.courses.models import AppointmentKind, CoursePlan
from mesoclinic.formulas.models import FormulaVersion, Lot
from mesoclinic.formulas.services import composition

SUMMARY_TITLE = "Treatment summary"
COURSE_TITLE = "Course history"
DRAFT_MARK = "DRAFT - not signed"
CONTINUED = "… (continued in the record)"
# The frame every page's story is set in (pdf.build's), in points.
FRAME_WIDTH = pdf.BOX_WIDTH
FRAME_HEIGHT = pdf.BOX_HEIGHT - pdf.HEADER_HEIGHT - pdf.FOOTER_HEIGHT
# The map's width, largest first, tried until the page fits; then the texts are cut.
MAP_WIDTHS_MM = (104, 98, 92, 86, 80, 74, 68)
# The shortest a cut text becomes, in characters, before the page is set smaller instead.
MIN_TEXT_BUDGET = 80
# The notes run across the page, the other texts in the panel beside the map (a third as
# wide): cut, the notes keep this many times their characters.
NOTES_BUDGET_FACTOR = 3
# An amendment's old and new values in the list: the full value is in the record.
AMENDMENT_VALUE_CHARS = 90
_DASH = "—"
_EN_DASH = "\u2013"  # between the ends of a range
_TIMES = "\u00d7"  # a needle's gauge by its length
_GAP = 4 * mm


# --- styles -------------------------------------------------------------------------------


def _sheet() -> dict[str, ParagraphStyle]:
    """pdf.styles(), tighter: a whole session on one page, still readable when printed."""
    base = pdf.styles()
    body = ParagraphStyle("chart-body", parent=base["body"], fontSize=8.5, leading=11, spaceAfter=0)
    return {
        "title": ParagraphStyle(
            "chart-title", parent=base["title"], fontSize=15, leading=18, spaceAfter=1
        ),
        "heading": ParagraphStyle(
            "chart-heading",
            parent=base["heading"],
            fontSize=9.5,
            leading=12,
            spaceBefore=6,
            spaceAfter=2,
        ),
        "aside": ParagraphStyle(
            "chart-aside",
            parent=body,
            fontSize=9.5,
            leading=12,
            alignment=2,
            textColor=pdf.INK,
        ),
        "body": body,
        "label": ParagraphStyle("chart-label", parent=body, fontName=pdf.FONT_BOLD),
        "cell": ParagraphStyle("chart-cell", parent=body, fontSize=8, leading=10),
        "num": ParagraphStyle("chart-num", parent=body, fontSize=8, leading=10, alignment=2),
        "th": ParagraphStyle(
            "chart-th",
            parent=body,
            fontName=pdf.FONT_BOLD,
            fontSize=7,
            leading=9,
            textColor=pdf.MUTED,
        ),
        "th-num": ParagraphStyle(
            "chart-th-num",
            parent=body,
            fontName=pdf.FONT_BOLD,
            fontSize=7,
            leading=9,
            textColor=pdf.MUTED,
            alignment=2,
        ),
        "tiny": ParagraphStyle("chart-tiny", parent=body, fontSize=7, leading=8.8),
        "tiny-bold": ParagraphStyle(
            "chart-tiny-bold", parent=body, fontName=pdf.FONT_BOLD, fontSize=7, leading=8.8
        ),
        "tiny-num": ParagraphStyle(
            "chart-tiny-num", parent=body, fontSize=7, leading=8.8, alignment=2
        ),
        "small": ParagraphStyle(
            "chart-small", parent=body, fontSize=7.5, leading=9.5, textColor=pdf.MUTED
        ),
        "sign": ParagraphStyle(
            "chart-sign",
            parent=body,
            fontSize=8,
            leading=10.5,
            spaceBefore=6,
            borderColor=pdf.RULE,
            borderWidth=0.6,
            borderPadding=4,
            leftIndent=4,
            rightIndent=4,
        ),
    }


def _text(value: str, style: ParagraphStyle) -> Paragraph:
    """Plain text, its line breaks kept."""
    return Paragraph(pdf.markup(value).replace("\n", "<br/>"), style)


def _grid(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    header: bool = True,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A ruled table across the text box: a small grey header, thin rules between rows."""
    table = Table(
        list(map(list, rows)), colWidths=list(widths), hAlign="LEFT", repeatRows=1 if header else 0
    )
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 1.4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.4),
        ("LINEBELOW", (0, 0), (-1, -2), 0.35, pdf.RULE),
    ]
    if header:
        style.append(("LINEBELOW", (0, 0), (-1, 0), 0.7, pdf.MUTED))
    table.setStyle(TableStyle([*style, *extra]))
    return table


# --- words --------------------------------------------------------------------------------


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return timezone.localtime(moment, tz)


def _day(moment: datetime, tz: ZoneInfo) -> str:
    return day_text(_local(moment, tz).date(), "en")


def _day_time(moment: datetime, tz: ZoneInfo) -> str:
    local = _local(moment, tz)
    return f"{day_text(local.date(), 'en')}, {local:%H:%M}"


def _short_day(day: date) -> str:
    """ "26 Nov 2027"."""
    return f"{day.day} {day:%b %Y}"


def _short_time(moment: datetime, tz: ZoneInfo) -> str:
    """ "26 Nov 2026 14:30", in the clinic's time."""
    local = _local(moment, tz)
    return f"{_short_day(local.date())} {local:%H:%M}"


def _zone(moment: datetime, tz: ZoneInfo, name: str) -> str:
    offset = _local(moment, tz).strftime("%z")
    return f"{name}, UTC{offset[:3]}:{offset[3:]}"


def _ml(value: Decimal) -> str:
    return f"{value.quantize(services.CENT)} mL"


def _number(value: Decimal) -> str:
    """4 for 4.0, 0.125 for 0.1250."""
    return format(value.normalize(), "f")


def _side(side: str) -> str:
    names: dict[str, str] = {Side.LEFT: "Left", Side.RIGHT: "Right", Side.BOTH: "Both"}
    return names.get(side, _DASH)


def _technique(code: str) -> str:
    """The technique's name without its explanation: "Papule", "Linear"."""
    try:
        return str(Technique(code).label).split(" (")[0]
    except ValueError:
        return code


def _clip(value: str, budget: int | None, continued: str = CONTINUED) -> str:
    """``value`` cut at a word to about ``budget`` characters, saying the rest is in the
    record; whole when it is short enough (or ``budget`` is None)."""
    if budget is None or len(value) <= budget:
        return value
    cut = value[:budget]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > budget // 2:
        cut = cut[:space]
    return cut.rstrip(f" \n,;:.-{_EN_DASH}{_DASH}") + continued


def _ranges(numbers: Sequence[int]) -> str:
    """1, 2, 3, 5 -> "1-3, 5", with an en dash."""
    out: list[str] = []
    start = previous = None
    for number in [*numbers, None]:
        if number is not None and previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            out.append(str(start) if start == previous else f"{start}{_EN_DASH}{previous}")
        start = previous = number
    return ", ".join(out)


def _points(count: int) -> str:
    return f"{count} point" if count == 1 else f"{count} points"


# --- what a summary shows, read once ------------------------------------------------------


@dataclass
class _Session:
    chart: Chart
    spec: services.DraftSpec
    values: dict[str, Any]  # the amendable fields as now corrected
    amendments: list[ChartAmendment]
    labels: dict[str, str]  # body area code -> label
    lots: dict[int, Lot]
    formula: str
    composition: str
    reference_sha256: str

    @property
    def tz(self) -> ZoneInfo:
        return self.chart.clinic.tz

    @property
    def amended(self) -> set[str]:
        return {amendment.field for amendment in self.amendments}

    def area_label(self, code: str) -> str:
        return self.labels.get(code) or code.replace("-", " ").capitalize()


def _composition(version: FormulaVersion) -> str:
    lines = composition(version)
    parts = [f"{line.ingredient.name} {_number(line.concentration)} {line.unit}" for line in lines]
    volume = f"{_number(version.total_volume_ml)} mL"
    return f"{', '.join(parts)} (in {volume})" if parts else f"{volume}, no active ingredient"


def _read(chart: Chart, *, cache: dict[Any, Any] | None = None) -> _Session:
    """Everything the summary of ``chart`` shows, from the database; ``cache`` keeps what
    the charts of one course share (labels, the formula's composition)."""
    cache = {} if cache is None else cache
    chart = Chart.objects.select_related(
        "clinic",
        "appointment",
        "patient",
        "plan__indication",
        "practitioner",
        "signed_by",
        "formula_version__formula",
    ).get(pk=chart.pk)
    spec = services.spec_of(chart)
    if "labels" not in cache:
        cache["labels"] = dict(BodyArea.objects.values_list("code", "label"))
    version = chart.formula_version
    key = ("composition", version.pk)
    if key not in cache:
        cache[key] = _composition(version)
    wanted = {line.lot_id for syringe in spec.syringes for line in syringe.lots}
    return _Session(
        chart=chart,
        spec=spec,
        values=services.effective(chart),
        amendments=list(chart.amendments.select_related("author").order_by("created_at", "pk")),
        labels=cache["labels"],
        lots={lot.pk: lot for lot in Lot.objects.filter(pk__in=wanted).select_related("product")},
        formula=str(version),
        composition=cache[key],
        reference_sha256=chart.content_sha256 or services.content_hash(chart),
    )


def _session_label(chart: Chart) -> str:
    """ "Session 2 of 6", "Maintenance session"."""
    if chart.appointment.kind == AppointmentKind.MAINTENANCE:
        return "Maintenance session"
    number = chart.session_number or chart.appointment.session_number
    planned = chart.plan.sessions_planned if chart.plan else None
    if number and planned:
        return f"Session {number} of {planned}"
    return f"Session {number}" if number else "Session"


def _span(values: dict[str, Any], tz: ZoneInfo) -> str:
    """ "10:02-10:17 (15 min)" (an en dash) in the clinic's time."""
    start, end = values[AmendableField.STARTED_AT], values[AmendableField.ENDED_AT]
    if start is None and end is None:
        return "Not recorded"
    if start is None or end is None:
        known = start or end
        return (
            f"{'Started' if start else 'Ended'} {_local(known, tz):%H:%M}, the other not recorded"
        )
    first, last = _local(start, tz), _local(end, tz)
    until = f"{last:%H:%M}" if first.date() == last.date() else _day_time(end, tz)
    minutes = round((end - start).total_seconds() / 60)
    return f"{first:%H:%M}{_EN_DASH}{until} ({minutes} min)"


def _anaesthetic(values: dict[str, Any]) -> str:
    product = values[AmendableField.ANAESTHETIC_PRODUCT]
    minutes = values[AmendableField.ANAESTHETIC_MINUTES]
    if not product:
        return "None"
    return f"{product}, {minutes} min" if minutes is not None else product


def _pain(values: dict[str, Any]) -> str:
    score = values[AmendableField.PAIN_SCORE]
    return "Not recorded" if score is None else f"{score} / 10"


def _total(spec: services.DraftSpec) -> tuple[Decimal, int]:
    volume = sum((services.area_volume(area) for area in spec.areas), Decimal(0))
    return volume, sum(area.point_count for area in spec.areas)


def _amendment_value(field_name: str, value: str, tz: ZoneInfo) -> str:
    if not value:
        return _DASH
    if field_name in (AmendableField.STARTED_AT, AmendableField.ENDED_AT):
        moment = parse_datetime(value)
        if moment is not None:
            return _short_time(moment, tz)
    return " ".join(_clip(value, AMENDMENT_VALUE_CHARS).split())


# --- the summary's parts ------------------------------------------------------------------


def _heading(title: str, aside: str, sheet: dict[str, ParagraphStyle]) -> Table:
    """The page's title, and on its right (``aside``, in Paragraph markup) what it is of."""
    table = Table(
        [[_text(title, sheet["title"]), Paragraph(aside, sheet["aside"])]],
        colWidths=[70 * mm, FRAME_WIDTH - 70 * mm],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LINEBELOW", (0, 0), (-1, 0), 0.7, pdf.ACCENT),
            ]
        )
    )
    return table


def _facts(s: _Session, sheet: dict[str, ParagraphStyle]) -> Table:
    chart, tz = s.chart, s.tz
    patient = chart.patient
    starts = chart.appointment.starts_at
    course = _session_label(chart)
    if chart.plan is not None:
        course = f"{chart.plan.indication.label}, {course[0].lower()}{course[1:]}"
    label, cell = sheet["label"], sheet["body"]
    rows = [
        [
            _text("Patient", label),
            _text(
                f"{patient}, born {day_text(patient.date_of_birth, 'en')} "
                f"(record no. {patient.pk})",
                cell,
            ),
            "",
            "",
        ],
        [
            _text("Session", label),
            _text(f"{_day_time(starts, tz)} ({chart.clinic.time_zone})", cell),
            _text("Practitioner", label),
            _text(str(chart.practitioner), cell),
        ],
        [
            _text("Course", label),
            _text(course, cell),
            _text("Formula", label),
            _text(s.formula, cell),
        ],
        [_text("Composition", label), _text(s.composition, cell), "", ""],
    ]
    widths = [24 * mm, 69 * mm, 23 * mm, FRAME_WIDTH - 116 * mm]
    spans = [("SPAN", (1, 0), (3, 0)), ("SPAN", (1, 3), (3, 3))]
    return _grid(rows, widths, header=False, extra=spans)


def _panel(
    s: _Session, sheet: dict[str, ParagraphStyle], width: float, budget: int | None
) -> Table:
    """Beside the map: the session's times, cream, pain, totals, reactions and aftercare."""
    values, amended = s.values, s.amended
    volume, points = _total(s.spec)
    placed = sum(len(area.points) for area in s.spec.areas)
    syringes = len(s.spec.syringes)
    injected = (
        f"{_ml(volume)} in {_points(points)} ({placed} on the map), "
        f"{len(s.spec.areas)} area{'s' if len(s.spec.areas) != 1 else ''}, "
        f"{syringes} syringe{'s' if syringes != 1 else ''}"
    )

    def mark(*fields: str) -> str:
        return " (amended)" if amended & set(fields) else ""

    rows = [
        ("Treatment", _span(values, s.tz) + mark("started_at", "ended_at")),
        ("Anaesthetic", _anaesthetic(values) + mark("anaesthetic_product", "anaesthetic_minutes")),
        ("Pain score", _pain(values) + mark("pain_score")),
        ("Injected", injected),
        (
            "Immediate reactions",
            (_clip(values["immediate_reactions"], budget) or "None recorded")
            + mark("immediate_reactions"),
        ),
        (
            "Aftercare given",
            (_clip(values["aftercare_given"], budget) or "None recorded") + mark("aftercare_given"),
        ),
    ]
    label_width = 25 * mm
    table = _grid(
        [[_text(k, sheet["label"]), _text(v, sheet["body"])] for k, v in rows],
        [label_width, width - label_width],
        header=False,
    )
    return table


def _areas(s: _Session, sheet: dict[str, ParagraphStyle]) -> Table:
    th, th_num, cell, num = sheet["th"], sheet["th-num"], sheet["cell"], sheet["num"]
    rows: list[list[Any]] = [
        [
            _text("Area", th),
            _text("Side", th),
            _text("Syr.", th),
            _text("Technique", th),
            _text("Depth", th_num),
            _text("mL / point", th_num),
            _text("Points", th_num),
            _text("On the map", th),
            _text("Volume", th_num),
        ]
    ]
    number = 0
    for area in s.spec.areas:
        numbers = list(range(number + 1, number + len(area.points) + 1))
        number += len(area.points)
        rows.append(
            [
                _text(s.area_label(area.area), cell),
                _text(_side(area.side), cell),
                _text(str(area.syringe), cell),
                _text(_technique(area.technique), cell),
                _text(f"{_number(area.depth_mm)} mm", num),
                _text(str(area.volume_per_point_ml), num),
                _text(str(area.point_count), num),
                _text(_ranges(numbers) or _DASH, cell),
                _text(_ml(services.area_volume(area)), num),
            ]
        )
    if not s.spec.areas:
        rows.append([_text("No area charted.", cell), "", "", "", "", "", "", "", ""])
        return _grid(rows, _AREA_WIDTHS, extra=[("SPAN", (0, 1), (-1, 1))])
    volume, points = _total(s.spec)
    bold = ParagraphStyle("chart-total", parent=num, fontName=pdf.FONT_BOLD)
    rows.append(
        [
            _text("Total", sheet["label"]),
            "",
            "",
            "",
            "",
            "",
            _text(str(points), bold),
            "",
            _text(_ml(volume), bold),
        ]
    )
    return _grid(rows, _AREA_WIDTHS, extra=[("LINEABOVE", (0, -1), (-1, -1), 0.7, pdf.MUTED)])


_AREA_WIDTHS = [w * mm for w in (40, 13, 9, 24, 15, 17, 14, 22, 16)]
_SYRINGE_WIDTHS = [w * mm for w in (9, 37, 16, 44, 24, 24, 16)]
_AMENDMENT_WIDTHS = [w * mm for w in (23, 24, 22, 34, 34, 33)]


def _device(syringe: services.SyringeSpec) -> str:
    if syringe.device == Device.INJECTOR:
        return f"Injector gun {syringe.injector_id}".strip()
    needle = ""
    if syringe.needle_gauge:
        needle = f", {syringe.needle_gauge} G"
    if syringe.needle_length_mm:
        needle += f" {_TIMES} {_number(syringe.needle_length_mm)} mm"
    return f"Syringe{needle}"


def _syringes(s: _Session, sheet: dict[str, ParagraphStyle]) -> Table:
    th, th_num, cell, num = sheet["th"], sheet["th-num"], sheet["cell"], sheet["num"]
    rows: list[list[Any]] = [
        [
            _text("Syr.", th),
            _text("Device and needle", th),
            _text("Drawn", th_num),
            _text("Product", th),
            _text("Lot", th),
            _text("Expiry", th),
            _text("From lot", th_num),
        ]
    ]
    spans: list[tuple[Any, ...]] = []
    for syringe in sorted(s.spec.syringes, key=lambda item: item.number):
        first = len(rows)
        head = [
            _text(str(syringe.number), cell),
            _text(_device(syringe), cell),
            _text(_ml(syringe.volume_ml), num),
        ]
        if not syringe.lots:
            rows.append([*head, _text("No lot recorded", cell), "", "", ""])
            continue
        for index, line in enumerate(syringe.lots):
            lot = s.lots.get(line.lot_id)
            product = lot.product.name if lot else _DASH
            if line.opens_unit:
                product += " (new vial opened)"
            rows.append(
                [
                    *(head if index == 0 else ["", "", ""]),
                    _text(product, cell),
                    _text(lot.lot_number if lot else str(line.lot_id), sheet["label"]),
                    _text(_short_day(lot.expiry_date) if lot else _DASH, cell),
                    _text(_ml(line.volume_ml), num),
                ]
            )
        if len(syringe.lots) > 1:
            last = len(rows) - 1
            spans += [("SPAN", (col, first), (col, last)) for col in range(3)]
            spans.append(("LINEBELOW", (0, first), (2, last - 1), 0, pdf.RULE))
    if len(rows) == 1:
        rows.append([_text("No syringe recorded.", cell), "", "", "", "", "", ""])
        spans.append(("SPAN", (0, 1), (-1, 1)))
    return _grid(rows, _SYRINGE_WIDTHS, extra=spans)


def _amendments(s: _Session, sheet: dict[str, ParagraphStyle], shown: int | None) -> list[Flowable]:
    if not s.amendments:
        return []
    tiny, th = sheet["tiny"], sheet["th"]
    listed = s.amendments if shown is None else s.amendments[-shown:] if shown else []
    rows: list[list[Any]] = [
        [
            _text("When", th),
            _text("By", th),
            _text("Field", th),
            _text("Was", th),
            _text("Now", th),
            _text("Reason", th),
        ]
    ]
    for amendment in listed:
        was = _amendment_value(amendment.field, amendment.original, s.tz)
        now = _amendment_value(amendment.field, amendment.value, s.tz)
        rows.append(
            [
                _text(_short_time(amendment.created_at, s.tz), tiny),
                _text(str(amendment.author), tiny),
                _text(str(amendment.get_field_display()), tiny),
                _text(was, tiny),
                _text(now, sheet["tiny-bold"]),
                _text(_clip(" ".join(amendment.reason.split()), AMENDMENT_VALUE_CHARS), tiny),
            ]
        )
    story: list[Flowable] = [
        _text(f"Amendments ({len(s.amendments)})", sheet["heading"]),
    ]
    if listed:
        story.append(_grid(rows, _AMENDMENT_WIDTHS))
    left_out = len(s.amendments) - len(listed)
    if left_out and listed:
        story.append(
            _text(
                f"The {left_out} earlier amendment{'s are' if left_out != 1 else ' is'} "
                "listed in the record.",
                sheet["small"],
            )
        )
    elif left_out:
        story.append(_text("They are listed in the record.", sheet["small"]))
    return story


def _signature(s: _Session, sheet: dict[str, ParagraphStyle]) -> Paragraph:
    chart, tz = s.chart, s.tz
    if chart.signed_at is None:
        words = (
            "<b>Draft, not signed.</b> This copy is for reading only: the chart may still "
            "change until its practitioner signs it. SHA-256 of the content as printed: "
            f"<font name='{pdf.FONT}' size='7'>{s.reference_sha256}</font>"
        )
    else:
        when = f"{_day(chart.signed_at, tz)} at {_local(chart.signed_at, tz):%H:%M}"
        zone = _zone(chart.signed_at, tz, chart.clinic.time_zone)
        amended = (
            f" Corrected since by {len(s.amendments)} amendment"
            f"{'s' if len(s.amendments) != 1 else ''}; the signed content is kept unchanged."
            if s.amendments
            else ""
        )
        words = (
            f"<b>Signed by {pdf.markup(str(chart.signed_by))}</b> on {when} ({zone}), "
            f"with their password.{amended} SHA-256 of the content signed: "
            f"<font size='7'>{chart.content_sha256}</font>"
        )
    return Paragraph(words, sheet["sign"])


def _session_story(
    s: _Session,
    *,
    map_mm: float,
    budget: int | None,
    amendments_shown: int | None,
) -> list[Flowable]:
    sheet = _sheet()
    chart = s.chart
    aside = pdf.markup(f"{_session_label(chart)} · {_day(chart.appointment.starts_at, s.tz)}")
    if chart.signed_at is None:
        aside += " · <font color='#9c2a1b'>draft, not signed</font>"
    story: list[Flowable] = [
        _heading(SUMMARY_TITLE, aside, sheet),
        Spacer(1, 2 * mm),
        _facts(s, sheet),
        Spacer(1, 3 * mm),
    ]
    drawing = bodymap.drawing(editor.map_points(s.spec), editor.treated(s.spec), width_mm=map_mm)
    panel_width = FRAME_WIDTH - map_mm * mm - _GAP
    beside = Table(
        [[drawing, _panel(s, sheet, panel_width, budget)]],
        colWidths=[map_mm * mm + _GAP, panel_width],
        hAlign="LEFT",
    )
    beside.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    story += [
        beside,
        _text("Areas treated", sheet["heading"]),
        _areas(s, sheet),
        _text("Syringes and lots", sheet["heading"]),
        _syringes(s, sheet),
    ]
    notes = s.values[AmendableField.NOTES]
    if notes:
        heading = "Notes" + (" (amended)" if AmendableField.NOTES in s.amended else "")
        # Set across the page, the notes hold about three times the panel's text a line.
        notes = _clip(notes, None if budget is None else NOTES_BUDGET_FACTOR * budget)
        story += [_text(heading, sheet["heading"]), _text(notes, sheet["body"])]
    story += _amendments(s, sheet, amendments_shown)
    story.append(_signature(s, sheet))
    return story


def _height(story: Sequence[Flowable], width: float = FRAME_WIDTH) -> float:
    """How tall ``story`` sets in a frame ``width`` wide (a little more, if anything)."""
    total = 0.0
    for index, flowable in enumerate(story):
        _, height = flowable.wrap(width, 100 * FRAME_HEIGHT)
        before = flowable.getSpaceBefore() if index else 0
        total += before + height + flowable.getSpaceAfter()
    return total


def _fitted(
    make: Callable[..., list[Flowable]], *, longest: int, room: float = FRAME_HEIGHT
) -> Flowable:
    """The first of ever more compact versions of a page that fits ``room``: the map
    smaller, then the free texts cut shorter, then fewer amendments listed. Set in a frame
    that shrinks whatever still overflows, so that a page is one page whatever it holds.
    ``make(map_mm=, budget=, amendments_shown=)`` gives the page's story; ``longest`` is the
    length of the longest text it may cut."""
    room -= 2  # points of slack for what the measure does not see

    def fits(**options: Any) -> bool:
        return _height(make(**options)) <= room

    options: dict[str, Any] = {"map_mm": MAP_WIDTHS_MM[0], "budget": None, "amendments_shown": None}
    for width in MAP_WIDTHS_MM:
        options["map_mm"] = width
        if fits(**options):
            return _frame(make(**options))
    for shown in (None, 3, 1, 0):
        options["amendments_shown"] = shown
        options["budget"] = MIN_TEXT_BUDGET
        if fits(**options):
            # The longest texts that still fit.
            low, high = MIN_TEXT_BUDGET, max(longest, MIN_TEXT_BUDGET)
            while high - low > 20:
                middle = (low + high) // 2
                if fits(**{**options, "budget": middle}):
                    low = middle
                else:
                    high = middle
            options["budget"] = low
            return _frame(make(**options))
    return _frame(make(**options))


def _frame(story: list[Flowable]) -> Flowable:
    return KeepInFrame(FRAME_WIDTH, FRAME_HEIGHT - 1, story, mode="shrink", hAlign="LEFT")


def _marks(title: str, chart_or_plan: Chart | CoursePlan, reference: str, draft: bool) -> Any:
    patient = chart_or_plan.patient
    return pdf.PageMarks(
        clinic=chart_or_plan.clinic.name,
        title=title,
        patient=f"{patient}, born {day_text(patient.date_of_birth, 'en')}",
        reference=reference,
        watermark=DRAFT_MARK if draft else "",
    )


def _summary_page(s: _Session) -> Flowable:
    texts = ("notes", "immediate_reactions", "aftercare_given")
    return _fitted(
        lambda **options: _session_story(s, **options),
        longest=max(len(s.values[name]) for name in texts),
    )


def session_summary_pdf(chart: Chart) -> bytes:
    """The one-page treatment summary of ``chart``: as signed and amended; a draft marked as
    such on the page."""
    s = _read(chart)
    chart = s.chart
    day = _day(chart.appointment.starts_at, s.tz)
    if chart.signed_at:
        reference = f"Chart {chart.pk} · SHA-256 of the content signed: {chart.content_sha256}"
    else:
        reference = f"Chart {chart.pk} · draft, not signed · content SHA-256 {s.reference_sha256}"
    return pdf.build(
        [_summary_page(s)],
        paper=chart.clinic.paper_size,
        marks=_marks(f"{SUMMARY_TITLE}, {day}", chart, reference, chart.signed_at is None),
        subject=f"{SUMMARY_TITLE}: {chart.patient}, {day}",
    )


# --- the course ---------------------------------------------------------------------------

_COVER_WIDTHS = [w * mm for w in (18, 14, 22, 35, 14, 22, 9, 22, 14)]


def _cover(
    plan: CoursePlan, sessions: list[_Session], sheet: dict[str, ParagraphStyle]
) -> list[Flowable]:
    patient = plan.patient
    facts = [
        (
            "Patient",
            f"{patient}, born {day_text(patient.date_of_birth, 'en')} (record no. {patient.pk})",
        ),
        ("Practitioner", str(plan.practitioner)),
        (
            "Formula",
            f"{plan.formula_version}: {_composition(plan.formula_version)}"
            if plan.formula_version
            else _DASH,
        ),
        (
            "Plan",
            f"{plan.sessions_planned} sessions, one every {plan.interval_days} days; "
            f"{services.progress(plan)}",
        ),
    ]
    label, cell = sheet["label"], sheet["body"]
    aside = pdf.markup(f"{plan.indication.label} · {plan.get_status_display().lower()}")
    story: list[Flowable] = [
        _heading(COURSE_TITLE, aside, sheet),
        Spacer(1, 2 * mm),
        _grid(
            [[_text(k, label), _text(v, cell)] for k, v in facts],
            [24 * mm, FRAME_WIDTH - 24 * mm],
            header=False,
        ),
        _text("Sessions", sheet["heading"]),
    ]
    th, th_num, tiny, tiny_num = sheet["th"], sheet["th-num"], sheet["tiny"], sheet["tiny-num"]
    rows: list[list[Any]] = [
        [
            _text("Date", th),
            _text("Session", th),
            _text("Practitioner", th),
            _text("Areas", th),
            _text("Volume", th_num),
            _text("Lots", th),
            _text("Pain", th_num),
            _text("Reactions", th),
            _text("Chart", th),
        ]
    ]
    for s in sessions:
        chart, values = s.chart, s.values
        areas = ", ".join(
            s.area_label(area.area) + (f" ({_side(area.side).lower()})" if area.side else "")
            for area in s.spec.areas
        )
        lots = sorted(
            {
                s.lots[line.lot_id].lot_number
                for syringe in s.spec.syringes
                for line in syringe.lots
                if line.lot_id in s.lots
            }
        )
        volume, _ = _total(s.spec)
        pain = values[AmendableField.PAIN_SCORE]
        if chart.signed_at is None:
            status = "Draft, not signed"
        elif s.amendments:
            status = f"Signed, amended ({len(s.amendments)})"
        else:
            status = "Signed"
        rows.append(
            [
                _text(_short_day(_local(chart.appointment.starts_at, s.tz).date()), tiny),
                _text(_session_label(chart).replace("Session ", ""), tiny),
                _text(str(chart.practitioner), tiny),
                _text(areas or _DASH, tiny),
                _text(_ml(volume) if s.spec.areas else _DASH, tiny_num),
                _text(", ".join(lots) or _DASH, tiny),
                _text(_DASH if pain is None else str(pain), tiny_num),
                _text(
                    _clip(" ".join(values["immediate_reactions"].split()), 48, "…") or "None", tiny
                ),
                _text(status, tiny),
            ]
        )
    extra: list[tuple[Any, ...]] = []
    signed = [s for s in sessions if s.chart.signed_at is not None]
    if not sessions:
        rows.append([_text("No session of this course has been charted yet.", tiny), *[""] * 8])
        extra.append(("SPAN", (0, 1), (-1, 1)))
    elif signed:
        total = sum((_total(s.spec)[0] for s in signed), Decimal(0))
        bold = ParagraphStyle("chart-tiny-total", parent=tiny_num, fontName=pdf.FONT_BOLD)
        count = f"{len(signed)} signed session{'s' if len(signed) != 1 else ''}"
        rows.append([_text(count, sheet["tiny-bold"]), "", "", "", _text(_ml(total), bold)])
        rows[-1] += [""] * 4
        extra += [
            ("SPAN", (0, -1), (3, -1)),
            ("LINEABOVE", (0, -1), (-1, -1), 0.7, pdf.MUTED),
        ]
    story.append(_grid(rows, _COVER_WIDTHS, extra=extra))
    if sessions:
        story.append(Spacer(1, 2 * mm))
        story.append(
            _text(
                "Each signed session follows on a page of its own, as corrected by its "
                "amendments; a draft is listed here only. Pain is scored 0 (none) to 10.",
                sheet["small"],
            )
        )
    return story


def course_history_pdf(plan: CoursePlan) -> bytes:
    """The course of ``plan``: a table of its charted sessions in date order, then each
    signed chart's summary on a page of its own."""
    plan = CoursePlan.objects.select_related(
        "clinic", "patient", "indication", "practitioner", "formula_version__formula"
    ).get(pk=plan.pk)
    charts = Chart.objects.filter(plan=plan).order_by("appointment__starts_at", "pk")
    cache: dict[Any, Any] = {}
    sessions = [_read(chart, cache=cache) for chart in charts]
    sheet = _sheet()
    story: list[Flowable] = _cover(plan, sessions, sheet)
    for s in sessions:
        if s.chart.signed_at is not None:
            story += [PageBreak(), _summary_page(s)]
    trace = [
        [s.chart.pk, s.chart.content_sha256, [a.pk for a in s.amendments]]
        for s in sessions
        if s.chart.signed_at
    ]
    digest = hashlib.sha256(json.dumps(trace, separators=(",", ":")).encode()).hexdigest()
    reference = (
        f"Course plan {plan.pk} · {len(trace)} signed chart{'s' if len(trace) != 1 else ''}"
        f" · SHA-256 {digest}"
    )
    return pdf.build(
        story,
        paper=plan.clinic.paper_size,
        marks=_marks(COURSE_TITLE, plan, reference, draft=False),
        subject=f"{COURSE_TITLE}: {plan.patient}, {plan.indication.label}",
    )
