import re

import numpy as np
import pytest

from morph_core.data.sky import iau_names, links, parse_iau_name, parse_position


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


def test_typed_positions_in_every_form():
    assert parse_position("150.1 2.2") == pytest.approx((150.1, 2.2))
    assert parse_position("150.1, -2.2") == pytest.approx((150.1, -2.2))
    assert parse_position("10:00:24 +02:12:00") == pytest.approx((150.1, 2.2))
    assert parse_position("10h00m24s +2d12m00s") == pytest.approx((150.1, 2.2))
    assert parse_position("J100024.00+021200.0") == pytest.approx((150.1, 2.2))
    with pytest.raises(ValueError, match="give RA and Dec"):
        parse_position("1 2 3")
    with pytest.raises(ValueError, match="not a sky position"):
        parse_position("10 95")


def test_object_names_resolve_online_and_fail_clearly_offline(monkeypatch):
    from astropy.coordinates import SkyCoord
    from astropy.coordinates.name_resolve import NameResolveError

    monkeypatch.setattr(
        SkyCoord,
        "from_name",
        classmethod(lambda cls, name: SkyCoord(49.92, -19.41, unit="deg")),
    )
    assert parse_position("NGC 1300") == pytest.approx((49.92, -19.41))

    def offline(cls, name):
        raise NameResolveError("All Sesame queries failed.")

    monkeypatch.setattr(SkyCoord, "from_name", classmethod(offline))
    with pytest.raises(ValueError, match="could not resolve 'NGC 1300'.*offline"):
        parse_position("NGC 1300")


def test_links_out_carry_the_position():
    urls = links(150.1, -2.2)
    assert set(urls) == {"Legacy Surveys", "SDSS", "Simbad"}
    assert all("150.10000" in u for u in urls.values())
    assert "dec=-2.20000" in urls["Legacy Surveys"]
