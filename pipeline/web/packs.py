"""Meeting packs (R12): a member sees the packs sent to them; the administrator and the chair
see every pack and who received it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from pipeline.app import App
from pipeline.errors import NotFound
from pipeline.store.models import Pack, PackSend
from pipeline.web.guard import Forbidden, Pages, Visit
from pipeline.web.users import READERS, Role, User

pages = Pages()
PACK_ROLES = READERS | {Role.MEMBER}


@dataclass(frozen=True)
class PackView:
    id: int
    panel_name: str
    meeting: datetime
    version: int
    pages: int
    references: tuple[str, ...]
    created_at: datetime
    # (recipient, sent at); a member sees only their own line.
    sends: tuple[tuple[str, datetime], ...]


def _view(app: App, pack: Pack, sends: list[PackSend]) -> PackView:
    return PackView(
        pack.id,
        app.config.panel(pack.panel_id).name,
        pack.meeting,
        pack.version,
        pack.pages,
        tuple(str(r) for r in pack.references),
        pack.created_at,
        tuple((s.recipient, s.sent_at) for s in sends),
    )


def packs_for(app: App, session: Session, user: User) -> list[PackView]:
    query = select(Pack).order_by(Pack.meeting.desc(), Pack.version.desc())
    if user.role == Role.MEMBER:
        query = query.join(PackSend, PackSend.pack_id == Pack.id).where(
            PackSend.recipient == user.email
        )
    return [_view(app, pack, _sends(session, pack, user)) for pack in session.scalars(query)]


def _sends(session: Session, pack: Pack, user: User) -> list[PackSend]:
    query = select(PackSend).where(PackSend.pack_id == pack.id).order_by(PackSend.sent_at)
    if user.role == Role.MEMBER:
        query = query.where(PackSend.recipient == user.email)
    return list(session.scalars(query))


def one_pack(app: App, session: Session, user: User, pack_id: int) -> PackView:
    """A pack, if this person may see it: a member only one that was sent to them."""
    pack = session.get(Pack, pack_id)
    if pack is None:
        raise NotFound(f"There is no pack {pack_id}.")
    sends = _sends(session, pack, user)
    if user.role == Role.MEMBER and not sends:
        raise Forbidden("You can open only the packs that were sent to you.")
    return _view(app, pack, sends)


@pages.get("/packs", PACK_ROLES, nav="Packs")
def packs_page(visit: Visit) -> Response:
    with visit.app.store.reading() as session:
        packs = packs_for(visit.app, session, visit.user)
    return visit.render("packs.html", packs=packs)


@pages.get("/packs/{pack_id:int}", PACK_ROLES)
def pack_page(visit: Visit) -> Response:
    with visit.app.store.reading() as session:
        pack = one_pack(visit.app, session, visit.user, visit.request.path_params["pack_id"])
    return visit.render("pack.html", pack=pack)
