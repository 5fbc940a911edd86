import re

import numpy as np
import pytest

from morph_core.sky import iau_names, parse_iau_name


def test_names_round_trip_to_positions():
    ra = np.array([0.0, 1.0465, 180.5, 359.99])
    dec = np.array([0.0, 2.1567, -30.25, 89.5])
    names = iau_names(ra, dec)
    for name, r, d in zip(names, ra, dec, strict=True):
        assert re.fullmatch(r"J\d{6}\.\d{2}[+-]\d{6}\.\d", name)
        back = parse_iau_name(name)
        assert back == pytest.approx((r, d), abs=0.01 / 3600 * 15)


def test_parse_known_name_and_reject_others():
    ra, dec = parse_iau_name("J000411.19+020924.0")
    assert ra == pytest.approx(1.04663, abs=1e-4)
    assert dec == pytest.approx(2.15667, abs=1e-4)
    assert parse_iau_name("J120000.00-301500.0")[1] == pytest.approx(-30.25)
    with pytest.raises(ValueError, match="not an IAU-style name"):
        parse_iau_name("NGC 1300")
