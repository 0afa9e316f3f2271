"""The quarterly picture (R15) for the administrator and the chair: the last complete quarter's
headline figures and charts (the same `Chart`s the workbook, the chair's email and the pack draw,
served here as PNG files from the console itself: the CSP allows images from 'self' only), each
with its figures as a table, and the workbook to download. Totals only: no child is named."""

from __future__ import annotations

from starlette.responses import Response

from pipeline.errors import NotFound
from pipeline.outputs.charts import Chart, charts_of, picture
from pipeline.outputs.quarterly import gather_quarter, make_report, report_title
from pipeline.rules.quarterly import BadQuarter, Quarter, headline, last_complete
from pipeline.web.guard import Pages, Visit
from pipeline.web.users import READERS

pages = Pages()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _quarter(visit: Visit) -> Quarter:
    try:
        return Quarter.parse(str(visit.request.path_params["quarter"]))
    except BadQuarter as exc:
        raise NotFound(f"There is no such quarter: {exc}") from None


def _charts(visit: Visit, quarter: Quarter) -> list[Chart]:
    with visit.app.store.reading() as session:
        return charts_of(gather_quarter(visit.app, session, quarter))


@pages.get("/quarterly", READERS, nav="Quarterly picture")
def latest(visit: Visit) -> Response:
    quarter = last_complete(visit.now.astimezone(visit.app.config.tz).date())
    return _page(visit, quarter)


@pages.get("/quarterly/{quarter}", READERS)
def one_quarter(visit: Visit) -> Response:
    return _page(visit, _quarter(visit))


def _page(visit: Visit, quarter: Quarter) -> Response:
    with visit.app.store.reading() as session:
        figures = gather_quarter(visit.app, session, quarter)
    return visit.render(
        "quarterly.html",
        quarter=quarter.label,
        previous=quarter.previous().label,
        title=report_title(visit.app, quarter, None),
        headline=headline(figures),
        charts=charts_of(figures),
    )


@pages.get("/quarterly/{quarter}/charts/{key}.png", READERS)
def chart_picture(visit: Visit) -> Response:
    key = visit.request.path_params["key"]
    found = [c for c in _charts(visit, _quarter(visit)) if c.key == key]
    if not found:
        raise NotFound(f"There is no chart {key}.")
    return Response(picture(found[0]), media_type="image/png")


@pages.get("/quarterly/{quarter}/workbook.xlsx", READERS)
def download(visit: Visit) -> Response:
    with visit.app.store.reading() as session:
        report = make_report(visit.app, session, _quarter(visit))
    disposition = f'attachment; filename="{report.filename}"'
    return Response(report.xlsx, media_type=XLSX, headers={"content-disposition": disposition})
