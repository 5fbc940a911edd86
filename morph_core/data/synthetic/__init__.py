"""The synthetic survey: the embedded demo sky and the encoder's training data.

Galaxies are rendered with GalSim from true parameters drawn from a seed, and
simulated volunteers answer a Galaxy-Zoo-DECaLS-like decision tree about them.
"""

from morph_core.data.synthetic.spec import MORPHOLOGIES, SurveySpec
from morph_core.data.synthetic.survey import make_catalog, make_survey

__all__ = ["MORPHOLOGIES", "SurveySpec", "make_catalog", "make_survey"]
