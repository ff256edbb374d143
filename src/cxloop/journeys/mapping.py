"""Journey map metrics: the walk lives in ``analytics.journeywalk`` (the analytics engine's
reference implementation); journeys keeps its names."""

from cxloop.analytics.journeywalk import JourneyResult, TouchpointRules, journey_walk

__all__ = ["JourneyResult", "TouchpointRules", "journey_walk"]
