"""The ``[scorecard]`` table of the config file: the floor's card and per-team cards.

```toml
[scorecard]
kpis = { occupancy = "efficiency", aht_non_emotional_seconds = "efficiency", fcr = "quality",
         qa_score = "quality", csat = "empathy", felt_heard = "empathy",
         idle_between_seconds = "experience" }
weights = { efficiency = 40, quality = 40, empathy = 20, experience = 0 }

[scorecard.bands.csat]          # any KPI's band; a missing edge is open
green_min = 4.2
yellow_min = 3.8

[scorecard.teams."team-sales"]  # a team's own card: any of the keys above
kpis = { occupancy = "efficiency", aht_non_emotional_seconds = "efficiency",
         sales_conversion = "quality", fcr = "quality", csat = "empathy" }
aht_target_seconds = 420
```
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import msgspec

from ccpulse.processors.catalogue import DEFAULT_BANDS, Band
from ccpulse.processors.scorecard import Scorecard, Scorecards

Number = float | int


class _BandFile(msgspec.Struct, forbid_unknown_fields=True):
    green_min: Number | None = None
    green_max: Number | None = None
    yellow_min: Number | None = None
    yellow_max: Number | None = None

    def band(self) -> Band:
        return Band((self.green_min, self.green_max), (self.yellow_min, self.yellow_max))


class _CardFile(msgspec.Struct, forbid_unknown_fields=True):
    kpis: dict[str, str] | None = None
    weights: dict[str, Annotated[float, msgspec.Meta(ge=0)]] | None = None
    bands: dict[str, _BandFile] = msgspec.field(default_factory=dict)
    aht_target_seconds: Annotated[float, msgspec.Meta(gt=0)] | None = None


class ScorecardFile(_CardFile, forbid_unknown_fields=True):
    teams: dict[str, _CardFile] = msgspec.field(default_factory=dict)


def _card(spec: _CardFile, base: Scorecard, where: str) -> Scorecard:
    changes: dict = {}
    if spec.kpis is not None:
        changes["kpis"] = tuple(spec.kpis.items())
    if spec.weights is not None:
        changes["weights"] = {**base.weights, **spec.weights}
    if spec.bands:
        changes["bands"] = {**base.bands, **{k: b.band() for k, b in spec.bands.items()}}
    if spec.aht_target_seconds is not None:
        changes["aht_target_seconds"] = spec.aht_target_seconds
    try:
        return replace(base, **changes)
    except ValueError as exc:
        raise ValueError(f"`{where}`: {exc}") from exc


def scorecards(spec: ScorecardFile) -> Scorecards:
    """The cards a config file describes; ValueError names the table that is wrong."""
    unknown = sorted(set(spec.bands) - set(DEFAULT_BANDS) - set(spec.kpis or {}))
    if unknown:
        raise ValueError(f"`scorecard.bands.{unknown[0]}`: not a KPI with a default band; "
                         "put it in `kpis` too")
    default = _card(spec, Scorecard(), "scorecard")
    teams = {team: _card(card, default, f'scorecard.teams."{team}"')
             for team, card in spec.teams.items()}
    return Scorecards(default, teams)
