"""The check kinds: one module per kind, one entry per kind in `CHECK_KINDS`.

Validation, rendering, templates, API schemas, fuzz strategies and guard tests all loop
over this registry; adding a kind is one module here, one entry below and one template
partial `quizapp/web/templates/checks/<name>.html`.
"""

from __future__ import annotations

from quizapp.domain.check_kinds.base import CheckKind
from quizapp.domain.check_kinds.choice import MultipleChoice, SingleChoice
from quizapp.domain.check_kinds.matching import Matching
from quizapp.domain.check_kinds.numeric import Numeric
from quizapp.domain.check_kinds.ordering import Ordering
from quizapp.domain.check_kinds.self_rated import SelfRated
from quizapp.domain.check_kinds.short_text import ShortText

CHECK_KINDS: dict[str, CheckKind] = {
    kind.name: kind
    for kind in (
        SingleChoice(),
        MultipleChoice(),
        Numeric(),
        SelfRated(),
        ShortText(),
        Ordering(),
        Matching(),
    )
}
AUTOMATIC_KINDS = tuple(name for name, kind in CHECK_KINDS.items() if kind.automatic)
