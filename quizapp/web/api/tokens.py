"""Your API tokens: what exists and when each expires (creating one stays on the account page,
so a leaked token cannot mint itself successors)."""

from __future__ import annotations

from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from quizapp.services import accounts
from quizapp.web.api.documented import signed_in

blp = Blueprint("api_tokens", __name__, description="Your personal API tokens")


class TokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The token's first characters"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "null: never"})


@blp.get("/me/tokens")
@signed_in(blp)
@blp.response(200, TokenOut(many=True))
@login_required
def my_tokens():
    """Your tokens that still work (neither revoked nor expired), newest first."""
    return accounts.active_api_tokens(current_user)
