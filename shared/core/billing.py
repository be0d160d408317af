"""What each provider bills, as one table of facts: whether a render that fails (the provider
accepted it, then reported it failed) is billed. Each fact is cited, or marked unconfirmed; an
unconfirmed one is taken as billed, so the daily spend cap never undercounts. The spend
(`orchestration.metric`) and the chaos benchmark (``bench/world.py``) read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    billed: bool  # what the code assumes
    confirmed: bool
    source: str


FAILED_RENDERS_BILLED: Mapping[str, Fact] = {
    "heygen": Fact(
        billed=False,
        confirmed=True,
        source=(
            "HeyGen's docs, enterprise-pricing (heygen-1fa696a7.mintlify.app/docs/"
            "enterprise-pricing): 'Credits are consumed when a video, translation, or speech "
            "job completes successfully — you are not charged for failed jobs.' Stated for "
            "credit plans; the pay-as-you-go page does not say otherwise."
        ),
    ),
    "did": Fact(
        billed=True,
        confirmed=False,
        source="not documented in D-ID's stored pages (docs.d-id.com); taken as billed",
    ),
    "runwayml": Fact(
        billed=True,
        confirmed=False,
        source=(
            "runwayml/skills rw-api-reference/SKILL.md:401-409: SAFETY.INPUT failures 'not "
            "refundable'; Runway's web-app help returns credits for generation errors, the "
            "API docs do not say: taken as billed"
        ),
    ),
}


def failed_render_billed(provider_id: str) -> bool:
    """Whether a render of ``provider_id`` that failed is billed (unknown providers: yes)."""
    fact = FAILED_RENDERS_BILLED.get(provider_id)
    return fact.billed if fact is not None else True
