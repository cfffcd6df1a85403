"""The signed-in user: who they are, their own "My Notifications" choice, and the
names of their firm's staff (to show who sent a text).

The host platform still owns name, email and permissions (``PUT /v1/users/{id}``);
a user changes only their own email and desktop preferences here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from adapters.auth import Caller
from adapters.http.deps import caller, container, texting_user
from adapters.http.routes_directory import Preference

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["me"])


class NotifyChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Preference | None = None
    desktop: Preference | None = None


class MeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notify: NotifyChoice


def _me_view(who: Caller, user) -> dict:
    return {"id": who.user_id, "firm_id": who.firm_id, "permissions": sorted(who.perms),
            "texting": "texting" in who.perms, "synced": user is not None,
            "name": user.name if user else None, "email": user.email if user else None,
            "notify": {"email": user.notify_email if user else "none",
                       "desktop": user.notify_desktop if user else "none"}}


@router.get("/me")
def get_me(who: Caller = Depends(caller), c: Container = Depends(container)):
    """The caller as the token and the host platform's last sync describe them. Any valid
    token may ask, so the web page can explain a missing texting permission."""
    return _me_view(who, c.texting.staff_user(who.firm_id, who.user_id))


@router.put("/me")
def put_me(body: MeIn, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """Change the caller's own notification preferences (a field left out stays as it is).
    It applies from the next text once the worker has seen the change."""
    current = c.texting.staff_user(who.firm_id, who.user_id)
    email = body.notify.email or (current.notify_email if current else "none")
    desktop = body.notify.desktop or (current.notify_desktop if current else "none")
    user = c.texting.choose_notifications(who.firm_id, who.user_id, email, desktop)
    return _me_view(who, user)


@router.get("/users")
def list_staff(who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """The firm's staff as ``{id, name}``: enough to name the sender of a text."""
    users = c.reads.user_directory(who.firm_id)
    return {"users": [{"id": uid, "name": row["name"]} for uid, row in sorted(users.items())]}
