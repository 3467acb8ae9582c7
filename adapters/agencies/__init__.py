"""Reference agency adapters: one :class:`~adapters.agencies.base.AgencyProfile` per agency."""

from adapters.agencies import belastingdienst, cjib, duo, svb, uwv
from adapters.agencies.base import AgencyAdapter, AgencyProfile

PROFILES: dict[str, AgencyProfile] = {
    module.PROFILE.participant: module.PROFILE
    for module in (belastingdienst, duo, uwv, svb, cjib)
}

__all__ = ["PROFILES", "AgencyAdapter", "AgencyProfile"]
